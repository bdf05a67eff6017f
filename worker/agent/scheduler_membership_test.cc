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
  absl::StatusOr<Membership> next = membership.Next(current, current.generation);
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
  absl::StatusOr<Membership> next = membership.Next(current, current.generation);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->generation, 6);
  EXPECT_THAT(next->new_rank_of_old, ElementsAre(0, 1));
  membership.Offer(Assign(6, 0, {0}));  // another job's or older news never moves it back
  EXPECT_EQ(membership.PendingGeneration(), 6);
}

TEST(SchedulerMembershipTest, RevocationEndsThisRanksPartAndTimeoutsAreErrors) {
  SchedulerMembership membership("j-1", absl::Milliseconds(20));
  const Membership current = SchedulerMembership::FromAssignment(Assign(0, 0, {-1}));
  EXPECT_EQ(membership.Next(current, current.generation).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  cosched::v1::Revocation other;
  other.set_job_id("j-2");
  membership.Revoke(other);  // not ours
  EXPECT_EQ(membership.PendingGeneration(), -1);
  cosched::v1::Revocation revocation;
  revocation.set_job_id("j-1");
  revocation.set_reason("node v1 ineligible: not plugged in");
  membership.Revoke(revocation);
  EXPECT_GT(membership.PendingGeneration(), 1000);  // tells the peers to move on
  absl::StatusOr<Membership> next = membership.Next(current, current.generation);
  EXPECT_EQ(next.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(next.status().message(), HasSubstr("not plugged in"));
}

TEST(SchedulerMembershipTest, AfterARevocationTheJobsNextAssignmentIsANewRun) {
  // The scheduler revokes this node (a restarted scheduler that lost track of it) and then
  // re-admits the job here: the revoked run must not swallow that assignment, or the node
  // would sit idle as a member of the new generation (the worker starts a new run with it).
  SchedulerMembership membership("j-1", absl::Seconds(30));
  EXPECT_TRUE(membership.Offer(Assign(0, 0, {-1, -1})));
  cosched::v1::Assignment other = Assign(1, 0, {0});
  other.set_job_id("j-2");
  EXPECT_FALSE(membership.Offer(other));
  cosched::v1::Revocation revocation;
  revocation.set_job_id("j-1");
  revocation.set_reason("node dc1 is no longer a member of job j-1");
  membership.Revoke(revocation);
  EXPECT_FALSE(membership.Offer(Assign(1, 0, {-1, -1})));
  const Membership current = SchedulerMembership::FromAssignment(Assign(0, 0, {-1, -1}));
  EXPECT_EQ(membership.Next(current, current.generation).status().code(),
            absl::StatusCode::kCancelled);
}

TEST(SchedulerMembershipTest, ANewerGenerationOrARevocationStopsTheOneBeingFormed) {
  SchedulerMembership membership("j-1", absl::Seconds(30));
  membership.Offer(Assign(7, 0, {0, 1}));
  std::stop_token forming7 = membership.SupersededToken(7);
  EXPECT_FALSE(forming7.stop_requested());
  membership.Offer(Assign(7, 0, {0, 1}));  // the same generation again (a re-send)
  EXPECT_FALSE(forming7.stop_requested());
  membership.Offer(Assign(8, 0, {0, 1, -1}));
  EXPECT_TRUE(forming7.stop_requested());
  // Asked for a generation already superseded: stopped from the start.
  EXPECT_TRUE(membership.SupersededToken(7).stop_requested());
  std::stop_token forming8 = membership.SupersededToken(8);
  EXPECT_FALSE(forming8.stop_requested());
  cosched::v1::Revocation revocation;
  revocation.set_job_id("j-1");
  membership.Revoke(revocation);
  EXPECT_TRUE(forming8.stop_requested());
  EXPECT_TRUE(membership.SupersededToken(9).stop_requested());
}

TEST(SchedulerMembershipTest, AfterAFailedGenerationNextWaitsForANewerOne) {
  std::vector<int64_t> reported;
  SchedulerMembership membership(
      "j-1", absl::Seconds(30),
      [&](int64_t generation, const absl::Status&) { reported.push_back(generation); });
  const Membership numbered = SchedulerMembership::FromAssignment(Assign(3, 1, {0, 1}));
  membership.Offer(Assign(3, 1, {0, 1}));
  membership.Offer(Assign(4, 1, {0, 1}));
  // Generation 4 did not form here; its rank map still starts at generation 3.
  membership.GenerationFailed(4, absl::DeadlineExceededError("rank 0 never came"));
  EXPECT_THAT(reported, ElementsAre(4));
  std::thread scheduler([&] { membership.Offer(Assign(5, 0, {1})); });  // rank 0 is gone
  absl::StatusOr<Membership> next = membership.Next(numbered, /*newer_than=*/4);
  scheduler.join();
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->generation, 5);
  EXPECT_EQ(next->rank, 0);
  EXPECT_THAT(next->new_rank_of_old, ElementsAre(-1, 0));  // composed over 3 -> 4 -> 5
}

}  // namespace
}  // namespace cosched::worker
