#include "worker/inference/compute_token.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/time/clock.h"

namespace cosched::worker {
namespace {

TEST(ComputeTokenTest, TrainingRunsWhileNobodyClaims) {
  ComputeToken token;
  EXPECT_TRUE(token.TrainingMayRun());
  token.WaitWhileInferenceClaims();  // returns at once
}

TEST(ComputeTokenTest, ClaimStopsTrainingAtTheYieldPointUntilTheLastClaimEnds) {
  ComputeToken token;
  token.BeginInference();  // never blocks, even while a micro-batch runs
  token.BeginInference();
  EXPECT_FALSE(token.TrainingMayRun());
  token.EndInference();
  EXPECT_FALSE(token.TrainingMayRun());  // one claim is still held
  token.EndInference();
  EXPECT_TRUE(token.TrainingMayRun());
}

TEST(ComputeTokenTest, EvaluationWaitsForInferenceToFinish) {
  ComputeToken token;
  token.BeginInference();
  Mutex mu;
  bool evaluated = false;
  std::thread evaluation([&] {
    token.WaitWhileInferenceClaims();
    MutexLock lock(&mu);
    evaluated = true;
  });
  {
    // The claim is held, so the waiter cannot have passed; whatever the interleaving, it
    // finishes only after EndInference below.
    MutexLock lock(&mu);
    EXPECT_FALSE(evaluated);
  }
  token.EndInference();
  evaluation.join();
  EXPECT_TRUE(evaluated);
}

TEST(ComputeTokenTest, BoundedWaitReportsWhetherTheClaimEnded) {
  ComputeToken token;
  EXPECT_TRUE(token.WaitWhileInferenceClaims(absl::InfinitePast()));  // nothing claims
  token.BeginInference();
  EXPECT_FALSE(token.WaitWhileInferenceClaims(absl::Now() + absl::Milliseconds(1)));
  std::thread release([&] { token.EndInference(); });
  EXPECT_TRUE(token.WaitWhileInferenceClaims(absl::InfiniteFuture()));
  release.join();
}

}  // namespace
}  // namespace cosched::worker
