// File: common/model_config_test.cc
// The `model:` and `optimizer:` sections: defaults, parsing, and errors that name the file,
// line and field.
#include "common/model_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cosched {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<OptimizerConfig> ParseYaml(const std::string& yaml) {
  auto doc = ConfigNode::LoadString(yaml, "job.yaml");
  if (!doc.ok()) return doc.status();
  auto section = doc->Map("optimizer");
  if (!section.ok()) return section.status();
  return ParseOptimizerConfig(*section);
}

TEST(MlpConfigTest, DefaultsAndParsing) {
  auto empty = ConfigNode::LoadString("model: {}\n", "m.yaml");
  ASSERT_TRUE(empty.ok());
  auto config = ParseMlpConfig(*empty->Map("model"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->LayerSizes(784, 10), (std::vector<int>{784, 256, 128, 10}));

  auto doc =
      ConfigNode::LoadString("model:\n  name: mlp\n  hidden_sizes: [64, 32, 16]\n", "m.yaml");
  config = ParseMlpConfig(*doc->Map("model"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hidden_sizes, (std::vector<int>{64, 32, 16}));

  auto none = ConfigNode::LoadString("model:\n  hidden_sizes: []\n", "m.yaml");
  config = ParseMlpConfig(*none->Map("model"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->LayerSizes(784, 10), (std::vector<int>{784, 10}));
}

TEST(MlpConfigTest, ErrorsNameTheField) {
  auto parse_error = [](const std::string& yaml) {
    auto doc = ConfigNode::LoadString(yaml, "m.yaml");
    EXPECT_TRUE(doc.ok()) << doc.status();
    return std::string(ParseMlpConfig(*doc->Map("model")).status().message());
  };
  EXPECT_THAT(parse_error("model:\n  hidden_sizes: [256, 0]\n"),
              HasSubstr("m.yaml:2: field 'model.hidden_sizes': item 1 (0) is out of range"));
  EXPECT_THAT(parse_error("model:\n  hidden_sizes: [256, abc]\n"),
              HasSubstr("field 'model.hidden_sizes': item 1 is not an integer"));
  EXPECT_THAT(parse_error("model:\n  hidden_sizes: 256,128\n"),
              HasSubstr("field 'model.hidden_sizes': expected a list of integers"));
  EXPECT_THAT(parse_error("model:\n  name: cnn\n"), HasSubstr("field 'model.name'"));
  EXPECT_THAT(parse_error("model:\n  hiden_sizes: 3\n"),
              HasSubstr("field 'model.hiden_sizes': unknown field"));
}

TEST(OptimizerConfigTest, ErrorsNameTheField) {
  auto error = [](const std::string& yaml) {
    return std::string(ParseYaml(yaml).status().message());
  };
  EXPECT_THAT(error("optimizer:\n  name: adam\n  learning_rate: 0\n"),
              HasSubstr("job.yaml:3: field 'optimizer.learning_rate': 0 must be > 0"));
  EXPECT_THAT(error("optimizer:\n  learning_rate: -1\n"),
              HasSubstr("field 'optimizer.learning_rate'"));
  EXPECT_THAT(error("optimizer:\n  learning_rate: fast\n"),
              HasSubstr("field 'optimizer.learning_rate': 'fast' is not a number"));
  EXPECT_THAT(error("optimizer:\n  learning_rate: nan\n"),
              HasSubstr("field 'optimizer.learning_rate'"));
  EXPECT_THAT(error("optimizer:\n  name: rmsprop\n"),
              HasSubstr("job.yaml:2: field 'optimizer.name': 'rmsprop' is not one of"));
  EXPECT_THAT(error("optimizer:\n  lerning_rate: 0.1\n"),
              HasSubstr("field 'optimizer.lerning_rate': unknown field"));
  EXPECT_THAT(error("optimizer:\n  name: sgd\n  momentum: 1\n"),
              HasSubstr("job.yaml:3: field 'optimizer.momentum': 1 must be in [0, 1)"));
  EXPECT_THAT(error("optimizer:\n  name: sgd\n  momentum: 0\n  nesterov: true\n"),
              HasSubstr("field 'optimizer.nesterov': Nesterov momentum needs momentum > 0"));
  EXPECT_THAT(error("optimizer:\n  beta1: 1.5\n"), HasSubstr("field 'optimizer.beta1'"));
  EXPECT_THAT(error("optimizer:\n  beta2: 1\n"), HasSubstr("field 'optimizer.beta2'"));
  EXPECT_THAT(error("optimizer:\n  epsilon: 0\n"),
              HasSubstr("field 'optimizer.epsilon': 0 must be > 0"));
  EXPECT_THAT(error("optimizer:\n  weight_decay: -0.1\n"),
              HasSubstr("field 'optimizer.weight_decay': -0.1 must be >= 0"));
  EXPECT_THAT(error("optimizer:\n  nesterov: maybe\n"),
              HasSubstr("field 'optimizer.nesterov': 'maybe' is not true or false"));
}

TEST(OptimizerConfigTest, FindOptimizerProblemNamesTheFirstBadField) {
  OptimizerConfig config;
  EXPECT_FALSE(FindOptimizerProblem(config).has_value());
  config.beta2 = 1.0;
  config.epsilon = 0.0;
  const auto problem = FindOptimizerProblem(config);
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->field, "beta2");
  EXPECT_EQ(problem->reason, "1 must be in [0, 1)");
}

}  // namespace
}  // namespace cosched
