#include "worker/edge/error_feedback.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace cosched::worker::edge {
namespace {

float MaxAbs(const std::vector<float>& values) {
  float m = 0;
  for (float v : values) m = std::max(m, std::fabs(v));
  return m;
}

// Over many rounds the carried error stays within one round's rounding, and the decoded
// tensors sum to the sent ones minus what is still carried.
TEST(ErrorFeedbackTest, TheCarriedErrorStaysBoundedAndNothingIsLostOverManyRounds) {
  for (Compression c : {Compression::kFp16, Compression::kInt8}) {
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    const size_t n = 1500;
    ErrorFeedback feedback(c, n);
    std::vector<double> sent(n, 0), decoded(n, 0);
    float largest_carried = 0;
    for (int round = 0; round < 2000; ++round) {
      std::vector<float> values(n);
      for (float& v : values) v = 0.01f * normal(rng);
      feedback.Encode(values);
      for (size_t i = 0; i < n; ++i) {
        sent[i] += values[i];
        decoded[i] += feedback.last_decoded()[i];
      }
      largest_carried = std::max(largest_carried, MaxAbs(feedback.carried()));
    }
    // A round's values reach about 0.04; int8 errs by at most 1/254 of that.
    EXPECT_LT(largest_carried, 0.06f / 254 * 2) << CompressionName(c);
    for (size_t i = 0; i < n; ++i) {
      EXPECT_NEAR(decoded[i], sent[i] - feedback.carried()[i], 1e-4) << CompressionName(c) << i;
    }
  }
}

// A value always below int8's grid step would be lost every round without feedback; with it,
// it gets through on average.
TEST(ErrorFeedbackTest, AValueBelowTheGridStepIsDeliveredOverRounds) {
  ErrorFeedback feedback(Compression::kInt8, 2);
  const std::vector<float> values = {1.0f, 0.001f};  // 0.001 * 127 rounds to 0
  double delivered = 0;
  for (int round = 0; round < 1000; ++round) {
    feedback.Encode(values);
    delivered += feedback.last_decoded()[1];
  }
  EXPECT_NEAR(delivered, 1.0, 1.0 / 127);  // 1000 x 0.001, give or take one grid step
}

TEST(ErrorFeedbackTest, ANonFiniteRoundIsNotCarriedIntoLaterOnes) {
  ErrorFeedback feedback(Compression::kInt8, 2);
  feedback.Encode({std::numeric_limits<float>::quiet_NaN(), 0.3f});
  EXPECT_TRUE(std::isnan(feedback.last_decoded()[0]));
  EXPECT_EQ(feedback.carried(), (std::vector<float>{0, 0}));
  feedback.Encode({0.5f, 0.25f});
  EXPECT_FLOAT_EQ(feedback.last_decoded()[0], 0.5f);
}

}  // namespace
}  // namespace cosched::worker::edge
