// File: collectives/collective_group.h
// CollectiveGroup: the ranks of one (job, generation), as the trainer and the benchmarks see
// them: allreduce, broadcast, allgather and barrier, each returning a Status.
//
// Failure is bounded: every operation carries the group's timeout, so a peer that dies or
// stalls turns into a non-OK Status on every survivor, never a hang. A failed group stays
// failed (the next membership builds generation g+1); Abort() from another thread ends an
// operation in flight at once.
//
// Implementations:
//   GlooGroup (gloo_group.h)           gloo over TCP, shared memory between ranks of one host
//   FakeCollectiveNetwork (testing/)   in-process, for tests and the deterministic simulation
// Both pass one conformance suite (testing/collective_group_conformance.h). Create groups
// with CreateGroup (gloo_group.h) or a fake network's CreateGroup.
//
// Thread model: one thread runs operations (they are serialized); any thread may Abort().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "collectives/algorithm.h"
#include "collectives/key_value_store.h"

namespace cosched::collectives {

struct GroupOptions {
  std::string job_id;
  int64_t generation = 0;
  int rank = 0;
  int world_size = 1;
  // Where ranks publish and find each other's addresses. Not owned; used only in Create.
  KeyValueStore* store = nullptr;
  // The address this rank listens on and advertises to its peers: an address of this host
  // that every peer can reach (its own interface, the pod IP). It is the rank's own, never a
  // job-wide setting (cosched-worker --advertise-address or COSCHED_ADVERTISE_ADDRESS).
  std::string advertise_address = "127.0.0.1";
  // Which host this rank runs on. Ranks with the same host id share memory; empty means this
  // machine's identity (kernel boot id + host name). Two network namespaces with their own
  // host names are two hosts.
  std::string host_id;
  // Bound on rendezvous and on every operation: a dead or stalled peer surfaces within it.
  absl::Duration timeout = absl::Seconds(30);
  AlgorithmSelector selector;
  // Ranks that share a host allreduce through one shared-memory segment instead of sockets
  // (every rank on one host: only shared memory; across hosts: shared memory inside each
  // host and gloo between one leader per host).
  bool shared_memory = true;
  size_t shared_memory_bytes_per_rank = 16 << 20;  // larger messages go through in pieces
  // Requested when this generation is superseded (membership moved on) while the group is
  // forming: the rendezvous gives up at once and Create returns CANCELLED.
  std::stop_token stop;
};

// Who a group is, fixed when it forms.
struct GroupIdentity {
  std::string job_id;
  int64_t generation = 0;
  int rank = 0;
  int world_size = 1;
  absl::Duration timeout = absl::Seconds(30);
};

class CollectiveGroup {
 public:
  virtual ~CollectiveGroup() = default;
  CollectiveGroup(const CollectiveGroup&) = delete;
  CollectiveGroup& operator=(const CollectiveGroup&) = delete;

  // A buffer of `count` floats owned by the group, for callers that allreduce the same size
  // again and again (gradients): an Allreduce of exactly this span may skip copies. The span
  // stays valid for the group's lifetime (one buffer per distinct count).
  virtual absl::Span<float> StagingBuffer(size_t count) = 0;

  // In-place sum over all ranks. Any length, including 0. `algorithm` overrides the
  // implementation's choice (on gloo a named algorithm always runs on gloo's TCP pairs).
  absl::Status Allreduce(absl::Span<float> data,
                         AllreduceAlgorithm algorithm = AllreduceAlgorithm::kAuto);
  // Copies `root`'s buffer into every rank's buffer (same length on every rank).
  absl::Status Broadcast(absl::Span<char> data, int root);
  absl::Status Broadcast(absl::Span<float> data, int root);
  // output = concatenation of every rank's input, in rank order;
  // output.size() must be input.size() * world_size().
  absl::Status Allgather(absl::Span<const float> input, absl::Span<float> output);
  absl::Status Barrier();

  // With shared memory among all ranks of the group: rank `rank`'s cell of 64 bits that every
  // rank maps (the trainer shares a step's work through them). Null otherwise.
  virtual std::atomic<uint64_t>* SharedWorkCell(int /*rank*/) const { return nullptr; }

  // Ends the operation in flight, if any, with ABORTED and fails all later ones. Safe from
  // any thread, idempotent. Peers see this rank leave.
  virtual void Abort(absl::string_view reason) = 0;

  // Why the group failed, or OK while it is healthy.
  virtual absl::Status health() const = 0;

  const GroupIdentity& identity() const { return identity_; }
  int rank() const { return identity_.rank; }
  int world_size() const { return identity_.world_size; }
  int64_t generation() const { return identity_.generation; }
  const std::string& job_id() const { return identity_.job_id; }
  absl::Duration timeout() const { return identity_.timeout; }

 protected:
  explicit CollectiveGroup(GroupIdentity identity) : identity_(std::move(identity)) {}

  // The operations, called with arguments already checked (sizes agree, root in range,
  // algorithm runs on this world size) and never for a world of one or empty data.
  virtual absl::Status DoAllreduce(absl::Span<float> data, AllreduceAlgorithm algorithm) = 0;
  virtual absl::Status DoBroadcast(absl::Span<char> data, int root) = 0;
  virtual absl::Status DoAllgather(absl::Span<const float> input, absl::Span<float> output) = 0;
  virtual absl::Status DoBarrier() = 0;

 private:
  const GroupIdentity identity_;
};

// Checks what every implementation needs before it forms a group: a job id, rank within the
// world, a positive timeout and (where the implementation meets through it) a store for more
// than one rank.
enum class StoreUse { kRequired, kNotUsed };
absl::Status ValidateGroupOptions(const GroupOptions& options,
                                  StoreUse store = StoreUse::kRequired);

// "cannot form group job/<id>/gen/<g>/ as rank r/n: <why>", with the code of `why`.
absl::Status FormError(const GroupOptions& options, const absl::Status& why);

}  // namespace cosched::collectives
