// File: bench/stats.h
// Order statistics over a benchmark's repetitions: median and the 10th/90th percentiles.
#pragma once

#include <vector>

#include "absl/status/statusor.h"

namespace cosched::bench {

// The `p`-quantile (0 <= p <= 1) of `samples`, interpolating linearly between the two
// nearest order statistics (numpy's default "linear" method). `samples` need not be sorted.
// InvalidArgument when `samples` is empty or `p` is outside [0, 1].
absl::StatusOr<double> Percentile(std::vector<double> samples, double p);

struct Summary {
  double median = 0;
  double p10 = 0;
  double p90 = 0;
};

// Median, p10 and p90 of `samples`; InvalidArgument when it is empty.
absl::StatusOr<Summary> Summarize(const std::vector<double>& samples);

}  // namespace cosched::bench
