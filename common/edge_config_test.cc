#include "common/edge_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/job_config.h"

namespace cosched {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<EdgeConfig> Edge(const std::string& yaml) {
  auto job = ParseJobConfigText(yaml, "job.yaml");
  if (!job.ok()) return job.status();
  return job->edge;
}

TEST(EdgeConfigTest, AJobWithoutTheSectionTrainsSynchronouslyAsBefore) {
  auto edge = Edge("job:\n  name: x\n");
  ASSERT_TRUE(edge.ok()) << edge.status();
  EXPECT_FALSE(edge->enabled);
}

TEST(EdgeConfigTest, TheSectionTurnsTheTierOnWithDiLoCosDefaults) {
  auto edge = Edge("job:\n  edge: {}\n");
  ASSERT_TRUE(edge.ok()) << edge.status();
  EXPECT_TRUE(edge->enabled);
  EXPECT_EQ(edge->local_steps, 50);
  EXPECT_DOUBLE_EQ(edge->outer_learning_rate, 0.7);
  EXPECT_DOUBLE_EQ(edge->outer_momentum, 0.9);
  EXPECT_EQ(edge->compression, "auto");            // by each replica's link
  EXPECT_FALSE(edge->round_deadline.has_value());  // auto
  EXPECT_EQ(edge->vehicle_batch, 0);               // the job's global batch
  auto given = Edge(
      "job:\n  edge:\n    local_steps: 1\n    outer_optimizer: {learning_rate: 1, momentum: 0}\n"
      "    compression: fp16\n    round_deadline: 1500ms\n    over_select: 0.5\n"
      "    max_norm_ratio: 4\n    sync_min_link_mbps: 100\n    vehicle_batch: 16\n");
  ASSERT_TRUE(given.ok()) << given.status();
  EXPECT_EQ(given->local_steps, 1);
  EXPECT_DOUBLE_EQ(given->outer_learning_rate, 1);
  EXPECT_DOUBLE_EQ(given->outer_momentum, 0);
  EXPECT_EQ(given->compression, "fp16");
  EXPECT_EQ(given->round_deadline, absl::Milliseconds(1500));
  EXPECT_DOUBLE_EQ(given->over_select, 0.5);
  EXPECT_DOUBLE_EQ(given->max_norm_ratio, 4);
  EXPECT_DOUBLE_EQ(given->sync_min_link_mbps, 100);
  EXPECT_EQ(given->vehicle_batch, 16);
}

TEST(EdgeConfigTest, EveryBadValueIsNamedWithItsReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"local_steps: 0", "local_steps"},
      {"outer_optimizer: {learning_rate: 0}", "must be > 0"},
      {"outer_optimizer: {momentum: 1}", "must be in [0, 1)"},
      {"outer_optimizer: {nesterov: true}", "nesterov"},
      {"compression: int4", "compression"},
      {"round_deadline: soon", "round_deadline"},
      {"round_deadline: 0s", "must be > 0 or auto"},
      {"over_select: -1", "over_select"},
      {"max_norm_ratio: 1", "must be > 1"},
      {"sync_min_link_mbps: -5", "sync_min_link_mbps"},
      {"vehicle_batch: 0", "vehicle_batch"},
      {"rounds: 3", "rounds"},
  };
  for (const auto& [field, reason] : cases) {
    auto edge = Edge(std::string("job:\n  edge: {") + field + "}\n");
    EXPECT_EQ(edge.status().code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_THAT(edge.status().message(), HasSubstr(reason)) << field;
    EXPECT_THAT(edge.status().message(), HasSubstr("edge")) << field;
  }
}

}  // namespace
}  // namespace cosched
