#include "worker/agent/scheduler_membership.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace cosched::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

cosched::v1::Assignment Assign(int64_t generation, int rank, std::vector<int> previous_rank) {
  cosched::v1::Assignment a;
  a.set_job_id("j-1");
  a.set_generation(generation);
  a.set_rank(rank);
  a.set_world(static_cast<int>(previous_rank.size()));
  for (int r : previous_rank) a.add_previous_rank(r);
  return a;
}

TEST(SchedulerMembershipTest, NextWaitsForANewerGenerationAndMapsRanks) {
  SchedulerMembership membership("j-1", absl::Seconds(30));
  membership.Offer(Assign(0, 1, {-1, -1, -1}));
  const Membership current = SchedulerMembership::FromAssignment(Assign(0, 1, {-1, -1, -1}));
  EXPECT_EQ(membership.PendingGeneration(), 0);
  // Old rank 0 left; old ranks 1 and 2 survive as 0 and 1; a newcomer is rank 2.
  std::thread scheduler([&] { membership.Offer(Assign(1, 0, {1, 2, -1})); });
  absl::StatusOr<Membership> next = membership.Next(current);
  scheduler.join();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->generation, 1);
  EXPECT_EQ(next->rank, 0);
  EXPECT_EQ(next->world_size, 3);
  EXPECT_THAT(next->new_rank_of_old, ElementsAre(-1, 0, 1));
}

TEST(SchedulerMembershipTest, SkippedGenerationsComposeTheirRankMaps) {
  SchedulerMembership membership("j-1", absl::Seconds(30));
  const Membership current = SchedulerMembership::FromAssignment(Assign(4, 0, {-1, -1}));
  membership.Offer(Assign(5, 1, {-1, 0, 1}));  // g4 ranks 0,1 -> g5 ranks 1,2
  membership.Offer(Assign(6, 0, {1, 2}));      // g5 ranks 1,2 -> g6 ranks 0,1
  absl::StatusOr<Membership> next = membership.Next(current);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->generation, 6);
  EXPECT_THAT(next->new_rank_of_old, ElementsAre(0, 1));
  membership.Offer(Assign(6, 0, {0}));  // another job's or older news never moves it back
  EXPECT_EQ(membership.PendingGeneration(), 6);
}

TEST(SchedulerMembershipTest, RevocationEndsThisRanksPartAndTimeoutsAreErrors) {
  SchedulerMembership membership("j-1", absl::Milliseconds(20));
  const Membership current = SchedulerMembership::FromAssignment(Assign(0, 0, {-1}));
  EXPECT_EQ(membership.Next(current).status().code(), absl::StatusCode::kDeadlineExceeded);
  cosched::v1::Revocation other;
  other.set_job_id("j-2");
  membership.Revoke(other);  // not ours
  EXPECT_EQ(membership.PendingGeneration(), -1);
  cosched::v1::Revocation revocation;
  revocation.set_job_id("j-1");
  revocation.set_reason("node v1 ineligible: not plugged in");
  membership.Revoke(revocation);
  EXPECT_GT(membership.PendingGeneration(), 1000);  // tells the peers to move on
  absl::StatusOr<Membership> next = membership.Next(current);
  EXPECT_EQ(next.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(next.status().message(), HasSubstr("not plugged in"));
}

}  // namespace
}  // namespace cosched::worker
