#include "common/clock.h"

#include <gtest/gtest.h>

namespace cosched {
namespace {

TEST(SimClockTest, MovesOnlyWhenAdvanced) {
  SimClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.Advance(absl::Seconds(2));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(102));
}

TEST(SimClockTest, NeverRunsBackwards) {
  SimClock clock(absl::FromUnixSeconds(100));
  clock.AdvanceTo(absl::FromUnixSeconds(50));
  clock.Advance(absl::Seconds(-5));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(100));
  clock.AdvanceTo(absl::FromUnixSeconds(150));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(150));
}

TEST(RealClockTest, FollowsWallTime) {
  const absl::Time before = absl::Now();
  const absl::Time now = RealClock::Get()->Now();
  EXPECT_GE(now, before);
  EXPECT_LE(now, absl::Now());
}

}  // namespace
}  // namespace cosched
