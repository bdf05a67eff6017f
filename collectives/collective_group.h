// File: collectives/collective_group.h
// CollectiveGroup: the ranks of one (job, generation) connected over gloo's TCP transport.
//
// Failure is bounded: every operation carries the group's timeout, so a peer that dies or
// stalls turns into a non-OK Status on every survivor, never a hang. A failed group stays
// failed (the next membership builds generation g+1); Abort() from another thread ends an
// operation in flight at once. gloo exceptions are caught in collective_group.cc and nowhere
// else in cosched.
//
// Thread model: one thread runs operations (they are serialized); any thread may Abort().
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "collectives/algorithm.h"
#include "collectives/key_value_store.h"
#include "collectives/shared_memory_reducer.h"
#include "common/mutex.h"

namespace gloo {
class Algorithm;
class Context;
namespace transport {
class Device;
}
}  // namespace gloo

namespace cosched::collectives {

struct GroupOptions {
  std::string job_id;
  int64_t generation = 0;
  int rank = 0;
  int world_size = 1;
  // Where ranks publish and find each other's addresses. Not owned; used only in Create.
  KeyValueStore* store = nullptr;
  // The address this rank listens on for its peers (an IP or host name of this machine).
  std::string listen_host = "127.0.0.1";
  // Bound on rendezvous and on every operation: a dead or stalled peer surfaces within it.
  absl::Duration timeout = absl::Seconds(30);
  AlgorithmSelector selector;
  // When every rank runs on this host, automatic allreduces go through one shared-memory
  // segment instead of gloo (SharedMemoryReducer); gloo still carries everything else.
  bool shared_memory = true;
  size_t shared_memory_bytes_per_rank = 16 << 20;  // larger messages go through in pieces
};

class CollectiveGroup {
 public:
  // Rendezvous with the other ranks and connect to all of them.
  static absl::StatusOr<std::unique_ptr<CollectiveGroup>> Create(const GroupOptions& options);
  ~CollectiveGroup();
  CollectiveGroup(const CollectiveGroup&) = delete;
  CollectiveGroup& operator=(const CollectiveGroup&) = delete;

  // A buffer of `count` floats owned by the group, for callers that allreduce the same size
  // again and again (gradients). gloo's classic algorithms are built once per (algorithm,
  // count) and bound to this buffer, so an Allreduce of exactly this span runs with no setup
  // and no copies; any other span of that size is copied in and out of it. The span stays
  // valid for the group's lifetime (one buffer per distinct count).
  absl::Span<float> StagingBuffer(size_t count) ABSL_LOCKS_EXCLUDED(op_mu_);

  // In-place sum over all ranks. Any length, including 0. `algorithm` overrides the selector
  // (and the shared-memory path: a named algorithm always runs on gloo).
  absl::Status Allreduce(absl::Span<float> data,
                         AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto)
      ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  // Copies `root`'s buffer into every rank's buffer (same length on every rank).
  absl::Status Broadcast(absl::Span<char> data, int root) ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status Broadcast(absl::Span<float> data, int root) ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  // output = concatenation of every rank's input, in rank order;
  // output.size() must be input.size() * world_size().
  absl::Status Allgather(absl::Span<const float> input, absl::Span<float> output)
      ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status Barrier() ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);

  // With the shared-memory path (every rank on this host): rank `rank`'s cell of 64 bits that
  // every rank of the group maps (SharedMemoryReducer::WorkCell). Null otherwise.
  std::atomic<uint64_t>* SharedWorkCell(int rank) const {
    return shared_memory_ != nullptr ? &shared_memory_->WorkCell(rank) : nullptr;
  }

  // Ends the operation in flight, if any, with ABORTED and fails all later ones. Safe from
  // any thread, idempotent. Peers see their connections to this rank close.
  void Abort(absl::string_view reason) ABSL_LOCKS_EXCLUDED(state_mu_);

  // Why the group failed, or OK while it is healthy.
  absl::Status health() const ABSL_LOCKS_EXCLUDED(state_mu_);
  AllreduceAlgorithm ChosenAlgorithm(uint64_t bytes) const;

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  int64_t generation() const { return options_.generation; }
  const std::string& job_id() const { return options_.job_id; }
  absl::Duration timeout() const { return options_.timeout; }

 private:
  CollectiveGroup(GroupOptions options, std::shared_ptr<gloo::transport::Device> device,
                  std::shared_ptr<gloo::Context> context,
                  std::shared_ptr<gloo::Context> sync_context,
                  std::unique_ptr<SharedMemoryReducer> shared_memory);

  // Runs `op` (which returns a Status and may call into gloo) under the operation lock,
  // turning gloo exceptions into a Status and recording the first failure.
  template <typename Op>
  absl::Status Run(absl::string_view what, Op&& op) ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status RunAllreduce(absl::Span<float> data, AllreduceAlgorithm algorithm)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  uint32_t NextTag() ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_) { return next_tag_++; }
  std::vector<float>& Staging(size_t count) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // The classic algorithm instance for (algorithm, count), built on first use. Every rank
  // makes the same calls in the same order, so every rank builds the same instances in the
  // same order and their gloo slots match.
  gloo::Algorithm& Classic(AllreduceAlgorithm algorithm, size_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);

  const GroupOptions options_;
  std::shared_ptr<gloo::transport::Device> device_;
  std::shared_ptr<gloo::Context> context_;       // asynchronous: unbound-buffer collectives
  std::shared_ptr<gloo::Context> sync_context_;  // synchronous mode: small classic allreduces
  std::unique_ptr<SharedMemoryReducer> shared_memory_;  // null unless all ranks share a host

  Mutex op_mu_;  // serializes operations
  // gloo's unbound-buffer collectives match messages by tag; every rank runs the same
  // sequence of operations, so a counter gives matching tags.
  uint32_t next_tag_ ABSL_GUARDED_BY(op_mu_) = 0;
  std::map<size_t, std::unique_ptr<std::vector<float>>> staging_ ABSL_GUARDED_BY(op_mu_);
  std::map<std::pair<AllreduceAlgorithm, size_t>, std::unique_ptr<gloo::Algorithm>> classic_
      ABSL_GUARDED_BY(op_mu_);

  mutable Mutex state_mu_;
  absl::Status failure_ ABSL_GUARDED_BY(state_mu_);
  bool aborted_ ABSL_GUARDED_BY(state_mu_) = false;
};

}  // namespace cosched::collectives
