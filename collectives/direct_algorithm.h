// File: collectives/direct_algorithm.h
// The direct algorithm (AllreduceAlgorithm::kDirect) of one mesh: an allreduce over
// DirectLinks that the calling thread drives, no gloo in between (direct_link.h says why).
// Between 2 parties it is the pair's exchange (direct_allreduce.h); among a power of two
// parties, recursive halving and doubling: pairs nested in pairs (Rabenseifner; party p's
// pair at level d is p xor d, largest d outermost), which takes 2 log2(n) steps where a ring
// takes 2(n-1), for the same bytes; among any other number a ring (direct_ring.h).
#pragma once

#include <memory>
#include <stop_token>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "collectives/key_value_store.h"

namespace cosched::collectives {

class LinkedAllreduce {
 public:
  virtual ~LinkedAllreduce() = default;
  // Sums `data` with the other parties' vectors of the same size, in place. Every party must
  // call Run the same number of times with the same sizes. ABORTED after Abort(),
  // DEADLINE_EXCEEDED after `timeout`, UNAVAILABLE when a peer left, DATA_LOSS when a peer's
  // bytes are not the operation this party runs.
  virtual absl::Status Run(absl::Span<float> data, absl::Duration timeout) = 0;
  // Any thread: a running or later Run fails at once, and so do the other parties'.
  virtual void Abort() = 0;
};

// Connects party `party` of `parties` (2 or more) under keys starting with `key_prefix`
// ("pair", "hd/<d>/<party without bit d>", "ring/<party>"). Errors as DirectLink::Connect's.
absl::StatusOr<std::unique_ptr<LinkedAllreduce>> ConnectDirectAlgorithm(
    KeyValueStore& store, const std::string& key_prefix, int party, int parties,
    const std::string& listen_address, absl::Duration timeout, std::stop_token stop);

}  // namespace cosched::collectives
