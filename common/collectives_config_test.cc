#include "common/collectives_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched {
namespace {

using ::testing::HasSubstr;

TEST(CollectivesConfigTest, ShippedExampleLoads) {
  auto doc = ConfigNode::LoadFile(std::string(COSCHED_SOURCE_DIR) + "/configs/collectives.yaml");
  ASSERT_TRUE(doc.ok()) << doc.status();
  auto config = ParseCollectivesConfig(*doc->Map("collectives"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->timeout, absl::Seconds(30));
  EXPECT_TRUE(config->shared_memory);
  EXPECT_EQ(config->shared_memory_bytes_per_rank, 16u << 20);
  EXPECT_EQ(config->allreduce.algorithm, "auto");
  EXPECT_TRUE(config->allreduce.rules.empty());
}

TEST(CollectivesConfigTest, BadValuesNameTheField) {
  auto doc = ConfigNode::LoadString("collectives:\n  timeout: 0s\n", "w.yaml");
  EXPECT_THAT(ParseCollectivesConfig(*doc->Map("collectives")).status().message(),
              HasSubstr("w.yaml:2: field 'collectives.timeout': must be positive"));
  auto typo = ConfigNode::LoadString("collectives:\n  timout: 5s\n", "t.yaml");
  EXPECT_THAT(ParseCollectivesConfig(*typo->Map("collectives")).status().message(),
              HasSubstr("field 'collectives.timout': unknown field"));
}

// The job no longer decides a rank's address; an old config is told what replaced the key.
TEST(CollectivesConfigTest, ListenHostIsRefusedWithTheFlagThatReplacedIt) {
  auto doc =
      ConfigNode::LoadString("collectives:\n  timeout: 5s\n  listen_host: 127.0.0.1\n", "old.yaml");
  const absl::Status status = ParseCollectivesConfig(*doc->Map("collectives")).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("old.yaml:3: field 'collectives.listen_host': no longer "
                                          "exists: each rank advertises its own address"));
  EXPECT_THAT(status.message(), HasSubstr("--advertise-address"));
  EXPECT_THAT(status.message(), HasSubstr("COSCHED_ADVERTISE_ADDRESS"));
}

TEST(AllreduceConfigTest, ReadsRulesOrAForcedAlgorithm) {
  auto doc = ConfigNode::LoadString(R"(allreduce:
  rules:
    - {min_bytes: 0, algorithm: ring}
    - {min_bytes: 64KiB, algorithm: bcube}
)",
                                    "c.yaml");
  ASSERT_TRUE(doc.ok());
  auto config = ParseAllreduceConfig(*doc->Map("allreduce"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->algorithm, "auto");
  ASSERT_EQ(config->rules.size(), 2u);
  EXPECT_EQ(config->rules[1].min_bytes, 65536u);
  EXPECT_EQ(config->rules[1].algorithm, "bcube");

  auto forced = ConfigNode::LoadString("allreduce:\n  algorithm: ring-chunked\n", "f.yaml");
  config = ParseAllreduceConfig(*forced->Map("allreduce"));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->algorithm, "ring-chunked");
  EXPECT_TRUE(config->rules.empty());
}

TEST(AllreduceConfigTest, BadConfigNamesTheField) {
  auto doc = ConfigNode::LoadString(R"(allreduce:
  rules:
    - {min_bytes: 0, algorithm: ring}
    - {min_bytes: lots, algorithm: bcube}
)",
                                    "bad.yaml");
  EXPECT_THAT(ParseAllreduceConfig(*doc->Map("allreduce")).status().message(),
              HasSubstr("bad.yaml:4: field 'allreduce.rules[1].min_bytes'"));

  auto unknown = ConfigNode::LoadString("allreduce:\n  algorithm: warp\n", "u.yaml");
  EXPECT_THAT(ParseAllreduceConfig(*unknown->Map("allreduce")).status().message(),
              HasSubstr("u.yaml:2: field 'allreduce.algorithm': unknown allreduce algorithm "
                        "'warp' (known: auto, ring, ring-chunked, halving-doubling, bcube, "
                        "allreduce-ring, allreduce-bcube, exchange, direct)"));

  auto both = ConfigNode::LoadString(
      "allreduce:\n  algorithm: ring\n  rules:\n    - {min_bytes: 0, algorithm: bcube}\n",
      "b.yaml");
  EXPECT_THAT(ParseAllreduceConfig(*both->Map("allreduce")).status().message(),
              HasSubstr("field 'allreduce.rules': give either a fixed 'algorithm' or 'rules'"));

  auto auto_rule = ConfigNode::LoadString(
      "allreduce:\n  rules:\n    - {min_bytes: 0, algorithm: auto}\n", "a.yaml");
  EXPECT_THAT(ParseAllreduceConfig(*auto_rule->Map("allreduce")).status().message(),
              HasSubstr("a.yaml:3: field 'allreduce.rules[0].algorithm': a rule must name a "
                        "concrete algorithm, not 'auto'"));

  auto bad_rule = ConfigNode::LoadString(
      "allreduce:\n  rules:\n    - {min_bytes: 0, algorithm: fast}\n", "r.yaml");
  EXPECT_THAT(ParseAllreduceConfig(*bad_rule->Map("allreduce")).status().message(),
              HasSubstr("field 'allreduce.rules[0].algorithm': unknown allreduce algorithm"));

  auto typo = ConfigNode::LoadString("allreduce:\n  algoritm: ring\n", "t.yaml");
  EXPECT_THAT(ParseAllreduceConfig(*typo->Map("allreduce")).status().message(),
              HasSubstr("field 'allreduce.algoritm': unknown field"));
}

}  // namespace
}  // namespace cosched
