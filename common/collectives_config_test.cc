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
  EXPECT_EQ(config->listen_host, "127.0.0.1");
  EXPECT_TRUE(config->shared_memory);
  EXPECT_EQ(config->shared_memory_bytes_per_rank, 16u << 20);
  EXPECT_EQ(config->selector.rules().size(), collectives::AlgorithmSelector().rules().size());
}

TEST(CollectivesConfigTest, BadValuesNameTheField) {
  auto doc = ConfigNode::LoadString("collectives:\n  timeout: 0s\n", "w.yaml");
  EXPECT_THAT(ParseCollectivesConfig(*doc->Map("collectives")).status().message(),
              HasSubstr("w.yaml:2: field 'collectives.timeout': must be positive"));
  auto typo = ConfigNode::LoadString("collectives:\n  timout: 5s\n", "t.yaml");
  EXPECT_THAT(ParseCollectivesConfig(*typo->Map("collectives")).status().message(),
              HasSubstr("field 'collectives.timout': unknown field"));
}

}  // namespace
}  // namespace cosched
