#include "worker/trainer/checkpoint_weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "worker/trainer/training_state.h"

namespace cosched::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// An MLP 3-2-2: 3*2+2 + 2*2+2 = 14 parameters.
TrainingState SmallMlpState() {
  TrainingState state;
  state.fingerprint = MlpFingerprint({3, 2, 2}, "adam");
  state.step = 1200;
  for (int i = 0; i < 14; ++i) state.parameters.push_back(0.25f * static_cast<float>(i) - 1);
  state.optimizer_state = {9, 9, 9};
  return state;
}

CheckpointVersion As(const std::string& model, std::optional<int64_t> version = std::nullopt,
                     double test_accuracy = -1) {
  CheckpointVersion as;
  as.model = model;
  as.version = version;
  as.test_accuracy = test_accuracy;
  return as;
}

TEST(FingerprintTest, LayerSizesRoundTrip) {
  EXPECT_EQ(MlpFingerprint({784, 256, 128, 10}, "adam"), "mlp:784-256-128-10/adam");
  auto sizes = FingerprintLayerSizes("mlp:784-256-128-10/adam");
  ASSERT_TRUE(sizes.ok()) << sizes.status();
  EXPECT_THAT(*sizes, ElementsAre(784, 256, 128, 10));
  auto no_optimizer = FingerprintLayerSizes("mlp:784-10");
  ASSERT_TRUE(no_optimizer.ok()) << no_optimizer.status();
  EXPECT_THAT(*no_optimizer, ElementsAre(784, 10));
}

TEST(FingerprintTest, RefusesWhatIsNotAnMlpsAndQuotesIt) {
  for (const char* bad : {"cnn:784-10/adam", "mlp:784/adam", "mlp:784-x-10/adam",
                          "mlp:784-0-10/adam", "mlp:-5-10/sgd", ""}) {
    auto sizes = FingerprintLayerSizes(bad);
    EXPECT_EQ(sizes.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(sizes.status().message(), HasSubstr(absl::StrCat("'", bad, "'")));
  }
}

TEST(CheckpointWeightsTest, CarriesTheParametersAsTheCheckpointsStep) {
  const TrainingState state = SmallMlpState();
  auto weights = CheckpointWeights(state, As("fashion", std::nullopt, 0.84));
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(weights->model(), "fashion");
  EXPECT_EQ(weights->version(), 1200);
  EXPECT_THAT(weights->layer_sizes(), ElementsAre(3, 2, 2));
  EXPECT_DOUBLE_EQ(weights->test_accuracy(), 0.84);
  ASSERT_EQ(weights->parameters().size(), 14 * sizeof(float));
  std::vector<float> params(14);
  std::memcpy(params.data(), weights->parameters().data(), weights->parameters().size());
  EXPECT_EQ(params, state.parameters);
}

TEST(CheckpointWeightsTest, TakesAnotherVersionNumberWhenGivenOne) {
  auto weights = CheckpointWeights(SmallMlpState(), As("fashion", 7));
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(weights->version(), 7);
  EXPECT_DOUBLE_EQ(weights->test_accuracy(), -1);
}

TEST(CheckpointWeightsTest, NamesWhatIsWrong) {
  const TrainingState state = SmallMlpState();
  auto unnamed = CheckpointWeights(state, As(""));
  EXPECT_EQ(unnamed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unnamed.status().message(), HasSubstr("model name"));

  auto negative = CheckpointWeights(state, As("m", -3));
  EXPECT_THAT(negative.status().message(), HasSubstr("version -3 is negative"));

  auto accuracy = CheckpointWeights(state, As("m", std::nullopt, 84));
  EXPECT_THAT(accuracy.status().message(), HasSubstr("test accuracy 84 is above 1"));

  TrainingState short_state = state;
  short_state.parameters.pop_back();
  auto short_params = CheckpointWeights(short_state, As("m"));
  EXPECT_EQ(short_params.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_params.status().message(),
              HasSubstr("holds 13 parameters; its fingerprint 'mlp:3-2-2/adam' calls for 14"));

  TrainingState other = state;
  other.fingerprint = "resnet/sgd";
  EXPECT_THAT(CheckpointWeights(other, As("m")).status().message(),
              HasSubstr("'resnet/sgd' is not an MLP's"));
}

}  // namespace
}  // namespace cosched::worker
