#include "scheduler/scheduler_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched::scheduler {
namespace {

using ::testing::HasSubstr;

TEST(SchedulerConfigTest, TheShippedConfigLoads) {
  auto config = LoadSchedulerConfig(std::string(COSCHED_SOURCE_DIR) + "/configs/scheduler.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->core.heartbeat_ttl, absl::Seconds(3));
  EXPECT_DOUBLE_EQ(config->core.vehicle.min_battery_fraction, 0.5);
  EXPECT_EQ(config->placement.plugins.size(), 5u);
  EXPECT_EQ(config->core.vehicle_network, absl::Milliseconds(15));
  EXPECT_EQ(config->core.demand.reclaim_at, 20);
  EXPECT_EQ(config->core.demand.min_hold, absl::Seconds(30));
  EXPECT_EQ(config->limits.max_jobs, 100);
  EXPECT_DOUBLE_EQ(config->limits.infers_per_second, 2000);
}

absl::Status Parse(const std::string& yaml) {
  auto root = ConfigNode::LoadString(yaml, "scheduler.yaml");
  if (!root.ok()) return root.status();
  return ParseSchedulerConfig(*root).status();
}

TEST(SchedulerConfigTest, BadFieldsAreNamed) {
  EXPECT_THAT(Parse("scheduler:\n  heartbeat_ttl: 100ms\n").message(),
              HasSubstr("must be longer than heartbeat_interval"));
  EXPECT_THAT(Parse("scheduler:\n  vehicle: {min_battery: 2}\n").message(),
              HasSubstr("min_battery"));
  EXPECT_THAT(Parse("scheduler:\n  placement: {plugins: [{name: magic}]}\n").message(),
              HasSubstr("unknown plugin 'magic'"));
  EXPECT_THAT(Parse("scheduler:\n  ttl: 3s\n").message(), HasSubstr("unknown field"));
  EXPECT_THAT(Parse("scheduler:\n  preemption: {reclaim_at: 0}\n").message(),
              HasSubstr("reclaim_at"));
  EXPECT_THAT(Parse("scheduler:\n  limits: {infers_per_second: 0}\n").message(),
              HasSubstr("infers_per_second"));
  EXPECT_THAT(Parse("scheduler:\n  limits: {jobs_per_client: 0}\n").message(),
              HasSubstr("jobs_per_client"));
  EXPECT_THAT(Parse("scheduler:\n  limits: {submit_burst: 0.5}\n").message(),
              HasSubstr("submit_burst"));
  EXPECT_TRUE(Parse("scheduler: {}\n").ok());
}

}  // namespace
}  // namespace cosched::scheduler
