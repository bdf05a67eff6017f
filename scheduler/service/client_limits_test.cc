// File: scheduler/service/client_limits_test.cc
#include "scheduler/service/client_limits.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched::scheduler {
namespace {

using ::testing::HasSubstr;

TEST(RateLimiterTest, AllowsTheBurstThenTheRateAndNamesTheLimit) {
  RateLimiter limiter("SubmitJob calls", /*rate=*/2, /*burst=*/3);
  const absl::Time start = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("alice", start).ok()) << i;
  const absl::Status refused = limiter.Take("alice", start);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.message(), HasSubstr("client alice exceeds its limit of 2 SubmitJob calls"));
  // Half a second later one token (2 a second) is back, and only one.
  EXPECT_TRUE(limiter.Take("alice", start + absl::Milliseconds(500)).ok());
  EXPECT_FALSE(limiter.Take("alice", start + absl::Milliseconds(500)).ok());
  // Idle for long, the bucket holds the burst, not more.
  const absl::Time later = start + absl::Hours(1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("alice", later).ok()) << i;
  EXPECT_FALSE(limiter.Take("alice", later).ok());
}

TEST(RateLimiterTest, ClientsHaveBucketsOfTheirOwn) {
  RateLimiter limiter("Infer calls", 1, 1);
  const absl::Time now = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(limiter.Take("alice", now).ok());
  EXPECT_FALSE(limiter.Take("alice", now).ok());
  EXPECT_TRUE(limiter.Take("bob", now).ok());
}

TEST(RateLimiterTest, AClockGoingBackGivesNoTokens) {
  RateLimiter limiter("Infer calls", 1, 1);
  const absl::Time now = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(limiter.Take("alice", now).ok());
  EXPECT_FALSE(limiter.Take("alice", now - absl::Seconds(30)).ok());
  EXPECT_FALSE(limiter.Take("alice", now).ok());
}

}  // namespace
}  // namespace cosched::scheduler
