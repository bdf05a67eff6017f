// File: collectives/direct_ring.h
// DirectRing: the direct algorithm among 3 or more parties (ranks, or hosts' leaders), a ring
// allreduce over DirectLinks to the two neighbours, driven by the calling thread like the
// pair's (direct_allreduce.h; direct_link.h says why not gloo).
//
// Party p sends to p+1 and receives from p-1 (mod n). The vector is cut into n chunks. A
// reduce-scatter of n-1 steps (step s: send chunk p-s; receive chunk p-s-1 and add it to this
// party's) leaves party p with the whole sum of chunk p+1; an allgather of n-1 steps (step s:
// send chunk p+1-s; receive chunk p-s in place) hands every sum around. What a step sends is
// what the previous step received, so the 2n-2 steps are one stream to the right and one
// from the left, and a piece goes on as soon as it is summed (kSumFloats at a time): the
// steps overlap like a pipeline instead of waiting for each other. Each party's link carries
// 2(n-1)/n of the vector each way, which is optimal with one link per party.
//
// Each stream starts with an OperationHeader (a neighbour out of step is DATA_LOSS naming
// both). Once all has arrived a party sends "done" to its left neighbour and waits for its
// right neighbour's: it succeeds only if the party it sent to received everything, so an
// abort anywhere fails the operation everywhere. Every chunk's sum is added up along one path
// and then copied, so every party ends with the same bits.
#pragma once

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "collectives/direct_algorithm.h"
#include "collectives/direct_link.h"
#include "collectives/key_value_store.h"

namespace cosched::collectives {

class DirectRing final : public LinkedAllreduce {
 public:
  // How many received floats are summed (and sent on) at a time.
  static constexpr size_t kSumFloats = 16 << 10;

  // Party `party` of `parties` (at least 3) links to its right neighbour (it listens, under
  // "<key_prefix><party>") and to its left one (it dials "<key_prefix><party - 1>"). Errors as
  // DirectLink::Connect's.
  static absl::StatusOr<std::unique_ptr<DirectRing>> Connect(
      KeyValueStore& store, const std::string& key_prefix, int party, int parties,
      const std::string& listen_address, absl::Duration timeout, std::stop_token stop);

  // Errors as DirectAllreduce::Run's. After an error this party closes its links, so its
  // neighbours fail at once too, and the ring is unusable.
  absl::Status Run(absl::Span<float> data, absl::Duration timeout) override;
  void Abort() override;

 private:
  DirectRing(int party, int parties, std::unique_ptr<DirectLink> left,
             std::unique_ptr<DirectLink> right);

  const int party_;
  const int parties_;
  std::unique_ptr<DirectLink> left_;   // receives the data, sends "done"
  std::unique_ptr<DirectLink> right_;  // sends the data, receives "done"
  uint64_t next_sequence_ = 0;
  std::vector<float> scratch_;  // where the reduce-scatter's chunks land before they are added
};

}  // namespace cosched::collectives
