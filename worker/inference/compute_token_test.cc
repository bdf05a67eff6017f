#include "worker/inference/compute_token.h"

#include <gtest/gtest.h>

#include <thread>

namespace cosched::worker {
namespace {

TEST(ComputeTokenTest, TrainingRunsWhenNoInferenceWants) {
  ComputeToken token;
  ASSERT_TRUE(token.TryEnterTraining());
  token.ExitTraining();
  EXPECT_FALSE(token.inference_pending());
}

TEST(ComputeTokenTest, InferenceWaitsForTheMicroBatchThenTrainingYields) {
  ComputeToken token;
  ASSERT_TRUE(token.TryEnterTraining());  // a micro-batch is running
  Mutex mu;
  bool inferring = false;
  std::thread inference([&] {
    token.EnterInference();
    {
      MutexLock lock(&mu);
      inferring = true;
    }
    token.ExitInference();
  });
  // The pending flag flips as soon as inference asks; the trainer sees it at its next yield.
  while (!token.inference_pending()) std::this_thread::yield();
  {
    MutexLock lock(&mu);
    EXPECT_FALSE(inferring);  // still blocked behind the micro-batch
  }
  token.ExitTraining();
  inference.join();
  EXPECT_TRUE(inferring);
  EXPECT_TRUE(token.TryEnterTraining());
  token.ExitTraining();
}

TEST(ComputeTokenTest, TrainerIsRefusedWhileInferenceHoldsTheCompute) {
  ComputeToken token;
  token.EnterInference();
  EXPECT_TRUE(token.inference_pending());
  EXPECT_FALSE(token.TryEnterTraining());
  token.ExitInference();
  EXPECT_FALSE(token.inference_pending());
  EXPECT_TRUE(token.TryEnterTraining());
  token.ExitTraining();
}

}  // namespace
}  // namespace cosched::worker
