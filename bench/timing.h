// File: bench/timing.h
// One sample of one allreduce implementation at one size, taken identically on every rank
// whatever the implementation (gloo, cosched or MPI):
//   1. check: every rank fills the buffer with rank+1 and runs the op once; the result must
//      be 1+2+...+n everywhere (a broken implementation must not report a fast time);
//   2. zero the buffer (repeated sums would otherwise grow to infinity);
//   3. calibrate: barrier, time one op; rank 0's time decides, for every rank, how many
//      iterations fill `min_time` (at least `min_iters`) — ranks must agree on the count;
//   4. measure: barrier, run the iterations back to back; the sample is the mean per op.
// Steps 1 and 3 double as warm-up (first-use connection and buffer setup).
#pragma once

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace cosched::bench {

// Synchronisation among the ranks, through the ranks' own bootstrap (not the implementation
// being timed).
class RankSync {
 public:
  virtual ~RankSync() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual absl::Status Barrier() = 0;
  // Rank 0's `value`, returned on every rank.
  virtual absl::StatusOr<int64_t> BroadcastFromRank0(int64_t value) = 0;
};

struct TimingOptions {
  absl::Duration min_time = absl::Milliseconds(50);
  int min_iters = 3;
  int max_iters = 100000;
};

// Runs one in-place sum allreduce over the buffer it was built for.
using AllreduceOp = absl::AnyInvocable<absl::Status()>;

// The mean seconds per `op` on this rank (steps above). `data` is the buffer `op` reduces.
absl::StatusOr<double> TimeAllreduce(absl::Span<float> data, AllreduceOp& op, RankSync& sync,
                                     const TimingOptions& options);

}  // namespace cosched::bench
