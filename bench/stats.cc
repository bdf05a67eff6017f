// File: bench/stats.cc
#include "bench/stats.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched::bench {

absl::StatusOr<double> Percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return absl::InvalidArgumentError("percentile of no samples");
  if (!(p >= 0.0 && p <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("percentile ", p, " is not in [0, 1]"));
  }
  std::sort(samples.begin(), samples.end());
  const double position = p * static_cast<double>(samples.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, samples.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return samples[below] + fraction * (samples[above] - samples[below]);
}

absl::StatusOr<Summary> Summarize(const std::vector<double>& samples) {
  Summary summary;
  ASSIGN_OR_RETURN(summary.median, Percentile(samples, 0.5));
  ASSIGN_OR_RETURN(summary.p10, Percentile(samples, 0.1));
  ASSIGN_OR_RETURN(summary.p90, Percentile(samples, 0.9));
  return summary;
}

}  // namespace cosched::bench
