// File: bench/allreduce_bench.h
// The launcher of `cosched-bench allreduce`. Each of `reps` rounds starts, in an order that
// rotates from round to round:
//   - N copies of this binary as gloo ranks (every cosched* and gloo-* implementation, see
//     bench/allreduce_rank.h), and
//   - one `mpirun` per MPI transport (mpi-shm, mpi-tcp) running this binary's MPI rank,
// so every round holds one sample of every implementation at every size, and slow drift
// of the machine affects them all alike. A sample is the mean time of one allreduce over
// many back-to-back iterations (bench/timing.h), taken as the maximum over the ranks: an
// allreduce is finished only when its slowest rank is.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/allreduce_impls.h"
#include "bench/bench_options.h"
#include "bench/stats.h"

namespace cosched::bench {

struct Result {
  Impl impl;
  uint64_t size_bytes = 0;
  int reps = 0;
  Summary seconds;  // over the reps samples
};

// Runs every round; the results are ordered by size, then implementation.
absl::StatusOr<std::vector<Result>> RunAllreduceBench(const BenchOptions& options);

}  // namespace cosched::bench
