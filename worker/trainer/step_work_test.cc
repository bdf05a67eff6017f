// File: worker/trainer/step_work_test.cc
#include "worker/trainer/step_work.h"

#include <gtest/gtest.h>

#include <thread>

namespace cosched::worker {
namespace {

using Range = std::pair<size_t, size_t>;

TEST(StepWorkTest, ClaimsAPlanInOrderUntilItIsExhausted) {
  std::atomic<uint64_t> cell{0};
  StepWork work({&cell, nullptr}, /*step=*/0, {5, 3});
  EXPECT_EQ(work.Claim(0, 2), Range(0, 2));
  EXPECT_EQ(work.Claim(0, 2), Range(2, 4));
  EXPECT_EQ(work.Claim(0, 2), Range(4, 5));
  EXPECT_EQ(work.Claim(0, 2), Range(5, 5));
  EXPECT_EQ(work.Claim(1, 8), Range(0, 3));  // a local cell for the plan without a shared one
}

TEST(StepWorkTest, OnlyAPlanWithACellFromTheGroupIsShared) {
  std::atomic<uint64_t> cell{0};
  StepWork work({&cell, nullptr}, /*step=*/0, {5, 3});
  EXPECT_TRUE(work.Shared(0));
  EXPECT_FALSE(work.Shared(1));         // its local counter knows nothing of what its owner did
  StepWork sized({}, /*step=*/0, {5});  // fewer cells than plans: the rest are local
  EXPECT_FALSE(sized.Shared(0));
}

TEST(StepWorkTest, OnlyAPlanWhoseOwnerAskedWantsHelpAndOnlyWhileSamplesRemain) {
  std::atomic<uint64_t> cells[2] = {0, 0};
  StepWork owner({&cells[0], &cells[1]}, 7, {4, 4});
  StepWork peer({&cells[0], &cells[1]}, 7, {4, 4});
  EXPECT_EQ(owner.Claim(0, 1), Range(0, 1));
  EXPECT_FALSE(peer.WantsHelp(0));
  owner.AskForHelp(0);
  EXPECT_TRUE(peer.WantsHelp(0));
  EXPECT_EQ(peer.Claim(0, 2), Range(1, 3));  // the peer takes the next samples, not the same
  EXPECT_EQ(owner.Claim(0, 2), Range(3, 4));
  EXPECT_FALSE(peer.WantsHelp(0));  // nothing left
}

TEST(StepWorkTest, CellsFromAnEarlierStepReadAsUntouched) {
  std::atomic<uint64_t> cell{0};
  StepWork first({&cell}, 3, {4});
  first.Claim(0, 4);
  first.AskForHelp(0);
  StepWork next({&cell}, 4, {4});
  EXPECT_FALSE(next.WantsHelp(0));
  EXPECT_EQ(next.Claim(0, 4), Range(0, 4));
}

TEST(StepWorkTest, ConcurrentClaimersTakeEverySampleExactlyOnce) {
  std::atomic<uint64_t> cell{0};
  constexpr size_t kSamples = 100000;
  std::vector<int> taken(kSamples, 0);
  auto claimer = [&] {
    StepWork work({&cell}, 1, {kSamples});
    while (true) {
      const auto [begin, end] = work.Claim(0, 7);
      if (begin == end) return;
      for (size_t i = begin; i < end; ++i) ++taken[i];  // ranges are disjoint: no race
    }
  };
  std::thread a(claimer), b(claimer);
  a.join();
  b.join();
  for (size_t i = 0; i < kSamples; ++i) ASSERT_EQ(taken[i], 1) << i;
}

}  // namespace
}  // namespace cosched::worker
