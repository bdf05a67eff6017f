#include "common/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace cosched {
namespace {

using ::testing::HasSubstr;

constexpr char kDoc[] = R"(name: demo
workers: 4
collectives:
  timeout: 30s
  chunk: 64KiB
  algorithm: ring
peers:
  - host: a
  - host: b
)";

TEST(ConfigTest, ReadsTypedFieldsAndDefaults) {
  auto config = ConfigNode::LoadString(kDoc, "demo.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*config->String("name", ""), "demo");
  EXPECT_EQ(*config->Int("workers", 1, 1, 16), 4);
  EXPECT_EQ(*config->Int("absent", 7, 1, 16), 7);
  auto collectives = config->Map("collectives");
  ASSERT_TRUE(collectives.ok());
  EXPECT_EQ(*collectives->Duration("timeout", absl::Seconds(1)), absl::Seconds(30));
  EXPECT_EQ(*collectives->ByteSize("chunk", 0), 65536u);
  EXPECT_EQ(*collectives->Enum("algorithm", "auto", {"auto", "ring"}), "ring");
  auto peers = config->List("peers");
  ASSERT_TRUE(peers.ok());
  ASSERT_EQ(peers->size(), 2u);
  EXPECT_EQ(*(*peers)[1].String("host", ""), "b");
}

TEST(ConfigTest, ErrorsNameFileLineFieldAndReason) {
  auto config = ConfigNode::LoadString(kDoc, "demo.yaml");
  ASSERT_TRUE(config.ok());
  auto collectives = config->Map("collectives");
  ASSERT_TRUE(collectives.ok());
  const auto bad_int = config->Int("workers", 1, 1, 2);
  EXPECT_EQ(bad_int.status().message(), "demo.yaml:2: field 'workers': 4 is out of range [1, 2]");
  const auto bad_enum = collectives->Enum("algorithm", "auto", {"auto", "bcube"});
  EXPECT_EQ(bad_enum.status().message(),
            "demo.yaml:6: field 'collectives.algorithm': 'ring' is not one of: auto, bcube");
  EXPECT_THAT(config->Int("name", 0, 0, 1).status().message(),
              HasSubstr("demo.yaml:1: field 'name': 'demo' is not an integer"));
  EXPECT_THAT(config->Map("name").status().message(), HasSubstr("expected a mapping"));
  EXPECT_THAT(config->String("collectives", "").status().message(),
              HasSubstr("field 'collectives': expected a single value"));
}

TEST(ConfigTest, ReadsIntegerLists) {
  auto config = ConfigNode::LoadString("layers: [784, 256, 10]\nbad: [1, x]\nlow: [0]\n", "l.yaml");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(*config->IntList("layers", {}, 1, 100000), (std::vector<int64_t>{784, 256, 10}));
  EXPECT_EQ(*config->IntList("absent", {1, 2}, 1, 9), (std::vector<int64_t>{1, 2}));
  EXPECT_THAT(config->IntList("bad", {}, 0, 9).status().message(),
              HasSubstr("l.yaml:2: field 'bad': item 1 is not an integer"));
  EXPECT_THAT(config->IntList("low", {}, 1, 9).status().message(),
              HasSubstr("item 0 (0) is out of range [1, 9]"));
}

TEST(ConfigTest, RejectsUnknownFields) {
  auto config = ConfigNode::LoadString("name: x\nwrokers: 3\n", "typo.yaml");
  ASSERT_TRUE(config.ok());
  const absl::Status status = config->RejectUnknownKeys({"name", "workers"});
  EXPECT_THAT(status.message(), HasSubstr("typo.yaml:2: field 'wrokers': unknown field"));
}

TEST(ConfigTest, SyntaxErrorsAndMissingFilesAreClear) {
  EXPECT_THAT(ConfigNode::LoadString("a: [1, 2\nb: 3\n", "broken.yaml").status().message(),
              HasSubstr("broken.yaml:"));
  EXPECT_THAT(ConfigNode::LoadString("- 1\n- 2\n", "list.yaml").status().message(),
              HasSubstr("must be a mapping"));
  EXPECT_EQ(ConfigNode::LoadFile("/nonexistent/cosched.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ConfigTest, LoadsFromAFile) {
  const std::string path = ::testing::TempDir() + "/config_test.yaml";
  std::ofstream(path) << kDoc;
  auto config = ConfigNode::LoadFile(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->source(), path);
  EXPECT_EQ(*config->Int("workers", 0, 0, 10), 4);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace cosched
