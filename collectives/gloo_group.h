// File: collectives/gloo_group.h
// GlooGroup: the real CollectiveGroup, gloo over TCP between ranks, shared memory between
// ranks of one host. gloo exceptions are caught in gloo_group.cc and nowhere else in cosched.
//
// Each rank listens on, and advertises, its own address (GroupOptions::advertise_address).
// At rendezvous the ranks also publish their host ids; automatic allreduces then go
//   - all ranks on one host: through one shared-memory segment (SharedMemoryReducer);
//   - otherwise: gloo over TCP among all ranks.
// Named algorithms, broadcast, allgather and barrier always run on gloo.
//
// Thread model: one thread runs operations (they are serialized); any thread may Abort().
#pragma once

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "collectives/collective_group.h"
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

// Forms the group this process's ranks use: a GlooGroup. Rendezvous happens here; CANCELLED
// when options.stop is requested before every rank arrived.
absl::StatusOr<std::unique_ptr<CollectiveGroup>> CreateGroup(const GroupOptions& options);

class GlooGroup final : public CollectiveGroup {
 public:
  static absl::StatusOr<std::unique_ptr<GlooGroup>> Create(const GroupOptions& options);
  ~GlooGroup() override;

  absl::Span<float> StagingBuffer(size_t count) override ABSL_LOCKS_EXCLUDED(op_mu_);
  std::atomic<uint64_t>* SharedWorkCell(int rank) const override {
    return shared_memory_ != nullptr ? &shared_memory_->WorkCell(rank) : nullptr;
  }
  void Abort(absl::string_view reason) override ABSL_LOCKS_EXCLUDED(state_mu_);
  absl::Status health() const override ABSL_LOCKS_EXCLUDED(state_mu_);

  // The algorithm an automatic allreduce of `bytes` runs on gloo.
  AllreduceAlgorithm ChosenAlgorithm(uint64_t bytes) const;

 protected:
  absl::Status DoAllreduce(absl::Span<float> data, AllreduceAlgorithm algorithm) override
      ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status DoBroadcast(absl::Span<char> data, int root) override
      ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status DoAllgather(absl::Span<const float> input, absl::Span<float> output) override
      ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status DoBarrier() override ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);

 private:
  GlooGroup(GroupOptions options, std::shared_ptr<gloo::transport::Device> device,
            std::shared_ptr<gloo::Context> context,
            std::unique_ptr<SharedMemoryReducer> shared_memory);

  // Runs `op` (which returns a Status and may call into gloo) under the operation lock,
  // turning gloo exceptions into a Status and recording the first failure.
  template <typename Op>
  absl::Status Run(absl::string_view what, Op&& op) ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status RunOnGloo(absl::Span<float> data, AllreduceAlgorithm algorithm)
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
  std::shared_ptr<gloo::Context> context_;
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
