// File: bench/stats_test.cc
#include "bench/stats.h"

#include "gtest/gtest.h"

namespace cosched::bench {
namespace {

TEST(PercentileTest, MedianOfOddCountIsTheMiddleSample) {
  auto median = Percentile({5, 1, 3}, 0.5);
  ASSERT_TRUE(median.ok()) << median.status();
  EXPECT_DOUBLE_EQ(*median, 3);
}

TEST(PercentileTest, MedianOfEvenCountIsTheMeanOfTheMiddleTwo) {
  auto median = Percentile({4, 1, 2, 3}, 0.5);
  ASSERT_TRUE(median.ok()) << median.status();
  EXPECT_DOUBLE_EQ(*median, 2.5);
}

TEST(PercentileTest, InterpolatesBetweenOrderStatistics) {
  // Seven samples 10..70: p10 sits at position 0.6, between 10 and 20.
  const std::vector<double> samples = {70, 10, 40, 30, 20, 60, 50};
  EXPECT_DOUBLE_EQ(*Percentile(samples, 0.1), 16);
  EXPECT_DOUBLE_EQ(*Percentile(samples, 0.9), 64);
  EXPECT_DOUBLE_EQ(*Percentile(samples, 0.0), 10);
  EXPECT_DOUBLE_EQ(*Percentile(samples, 1.0), 70);
}

TEST(PercentileTest, SingleSampleIsEveryPercentile) {
  EXPECT_DOUBLE_EQ(*Percentile({2.5}, 0.1), 2.5);
  EXPECT_DOUBLE_EQ(*Percentile({2.5}, 0.9), 2.5);
}

TEST(PercentileTest, RejectsNoSamplesAndOutOfRangeP) {
  EXPECT_EQ(Percentile({}, 0.5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Percentile({1}, 1.5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Percentile({1}, -0.1).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SummarizeTest, ReportsMedianP10P90) {
  auto summary = Summarize({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_DOUBLE_EQ(summary->median, 6);
  EXPECT_DOUBLE_EQ(summary->p10, 2);
  EXPECT_DOUBLE_EQ(summary->p90, 10);
}

TEST(SummarizeTest, RejectsNoSamples) {
  EXPECT_EQ(Summarize({}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cosched::bench
