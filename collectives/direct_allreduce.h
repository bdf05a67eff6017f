// File: collectives/direct_allreduce.h
// DirectAllreduce (AllreduceAlgorithm::kDirect): the allreduce of a two-party mesh (a group of
// 2 ranks, or the leaders of a group on 2 hosts) over a DirectLink, which the calling thread
// drives itself (direct_link.h says why).
//
// An operation is one stream each way on the link:
//   header    magic, the operation's sequence number and its size, checked on arrival, so a
//             peer out of step (another operation, another size) fails the operation with an
//             error naming both, never a wrong sum;
//   data      small vectors (kWholeBelowBytes): the whole vector, and each side sums both. Large
//             ones: each side owns one half; it sends the other half, sums the peer's copy of
//             its own half as it arrives (in kSumFloats pieces) and sends each summed piece back
//             at once, so the reduce-scatter and the allgather overlap;
//   done      one byte, sent once everything has arrived, and awaited: a side succeeds only if
//             its peer received everything too, so a peer that aborts mid-operation fails both
//             (the same rule as ExchangeAllreduce).
// Both sides get the same bits: with two operands a + b and b + a are the same float.
//
// With an `inner` allreduce the pair is one level of recursive halving and doubling
// (Rabenseifner's allreduce, direct_algorithm.h builds it): once this side's part holds the
// pair's sum, and its raw part has gone, `inner` sums that part across the other pairs, and
// only then does it go back to the peer. A large vector then crosses each level in halves,
// so each party sends 2(n-1)/n of it in 2 log2(n) steps instead of a ring's 2(n-1).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "collectives/direct_algorithm.h"
#include "collectives/direct_link.h"

namespace cosched::collectives {

class DirectAllreduce final : public LinkedAllreduce {
 public:
  // Below this a vector goes whole: one round of data instead of two, for twice the sums.
  static constexpr size_t kWholeBelowBytes = 256 << 10;
  // How many received floats are summed (and, for halves, sent back) at a time.
  static constexpr size_t kSumFloats = 16 << 10;

  // `inner`, when given, sums this side's part across the other pairs (see above); side 0 of
  // every pair at this level must own the same part, so the link's side must be the party's
  // bit for this level.
  explicit DirectAllreduce(std::unique_ptr<DirectLink> link,
                           std::unique_ptr<LinkedAllreduce> inner = nullptr);

  // Sums `data` with the peer's vector of the same size in place. Both sides must call Run
  // the same number of times with the same sizes. ABORTED after Abort(), DEADLINE_EXCEEDED
  // after `timeout`, UNAVAILABLE when the peer left, DATA_LOSS when its bytes are not the
  // operation this side runs. After an error this side aborts (the link and `inner`), so
  // every party fails at once, and the allreduce is unusable.
  absl::Status Run(absl::Span<float> data, absl::Duration timeout) override;

  // Any thread: a running or later Run fails at once, and so does the peer's.
  void Abort() override;

 private:
  std::unique_ptr<DirectLink> link_;
  std::unique_ptr<LinkedAllreduce> inner_;
  uint64_t next_sequence_ = 0;
  std::vector<float> theirs_;  // the peer's copy of the part this side sums
};

}  // namespace cosched::collectives
