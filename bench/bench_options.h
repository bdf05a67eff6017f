// File: bench/bench_options.h
// The flags of `cosched-bench allreduce` (the user-facing subcommand).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/timing.h"

namespace cosched::bench {

struct BenchOptions {
  int ranks = 2;
  std::vector<uint64_t> sizes = {4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20};
  int reps = 7;
  bool json = false;
  std::vector<std::string> impls;  // empty: every implementation available
  TimingOptions timing;
  absl::Duration launch_timeout = absl::Minutes(5);  // one launch of ranks or one mpirun
  absl::Duration op_timeout = absl::Seconds(60);     // rendezvous and each collective
};

// InvalidArgument naming the flag for anything malformed.
absl::StatusOr<BenchOptions> ParseBenchOptions(const std::vector<std::string>& args);

// The flags, for `cosched-bench help`.
extern const char kAllreduceUsage[];

}  // namespace cosched::bench
