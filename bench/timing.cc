// File: bench/timing.cc
#include "bench/timing.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched::bench {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::Status CheckSum(absl::Span<const float> data, int world_size) {
  const float want = static_cast<float>(world_size * (world_size + 1) / 2);
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != want) {
      return absl::InternalError(absl::StrCat("wrong allreduce result at element ", i, ": ",
                                              data[i], " instead of ", want));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<double> TimeAllreduce(absl::Span<float> data, AllreduceOp& op, RankSync& sync,
                                     const TimingOptions& options) {
  std::fill(data.begin(), data.end(), static_cast<float>(sync.rank() + 1));
  RETURN_IF_ERROR(op());
  RETURN_IF_ERROR(CheckSum(data, sync.world_size()));
  std::fill(data.begin(), data.end(), 0.0f);

  RETURN_IF_ERROR(sync.Barrier());
  const Clock::time_point calibration_start = Clock::now();
  RETURN_IF_ERROR(op());
  const double one_op = std::max(SecondsSince(calibration_start), 1e-9);
  const double wanted = std::ceil(absl::ToDoubleSeconds(options.min_time) / one_op);
  const int64_t proposed = static_cast<int64_t>(
      std::clamp(wanted, static_cast<double>(options.min_iters),
                 static_cast<double>(std::max(options.min_iters, options.max_iters))));
  ASSIGN_OR_RETURN(const int64_t iterations, sync.BroadcastFromRank0(proposed));

  RETURN_IF_ERROR(sync.Barrier());
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < iterations; ++i) RETURN_IF_ERROR(op());
  return SecondsSince(start) / static_cast<double>(iterations);
}

}  // namespace cosched::bench
