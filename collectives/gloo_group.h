// File: collectives/gloo_group.h
// GlooGroup: the real CollectiveGroup, gloo over TCP between ranks, shared memory between
// ranks of one host. gloo exceptions are caught in gloo_group.cc and nowhere else in cosched.
//
// Each rank listens on, and advertises, its own address (GroupOptions::advertise_address).
// At rendezvous the ranks also publish their host ids (host_layout.h); automatic allreduces
// then take one of three paths (AllreducePath):
//   - all ranks on one host: through one shared-memory segment (SharedMemoryReducer);
//   - several hosts, some with several ranks: hierarchically. Each host's ranks reduce into
//     their leader through the host's segment, the leaders allreduce over a gloo mesh of
//     their own, and each leader hands the sum back through its segment;
//   - one rank per host (or shared memory off): gloo over TCP among all ranks.
// Each mesh (all ranks; the leaders) also gets the links of the direct algorithm
// (direct_algorithm.h: a pair's link, or a ring's), which the measured rules pick.
// Named algorithms, broadcast, allgather and barrier always run on the mesh of all ranks.
//
// Thread model: one thread runs operations (they are serialized); any thread may Abort().
#pragma once

#include <map>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "collectives/collective_group.h"
#include "collectives/direct_algorithm.h"
#include "collectives/host_layout.h"
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

// How an automatic allreduce moves data (see the file comment).
enum class AllreducePath { kSharedMemory, kHierarchical, kGloo };

class GlooGroup final : public CollectiveGroup {
 public:
  static absl::StatusOr<std::unique_ptr<GlooGroup>> Create(const GroupOptions& options);
  ~GlooGroup() override;

  absl::Span<float> StagingBuffer(size_t count) override ABSL_LOCKS_EXCLUDED(op_mu_);
  std::atomic<uint64_t>* SharedWorkCell(int rank) const override {
    return path_ == AllreducePath::kSharedMemory ? &host_memory_->WorkCell(rank) : nullptr;
  }
  void Abort(absl::string_view reason) override ABSL_LOCKS_EXCLUDED(state_mu_);
  absl::Status health() const override ABSL_LOCKS_EXCLUDED(state_mu_);

  // The algorithm an automatic allreduce of `bytes` runs on gloo (on the leaders' mesh when
  // the path is hierarchical).
  AllreduceAlgorithm ChosenAlgorithm(uint64_t bytes) const;
  AllreducePath path() const { return path_; }
  const HostLayout& layout() const { return layout_; }

 protected:
  absl::Status DoAllreduce(absl::Span<float> data, AllreduceAlgorithm algorithm) override
      ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status DoBroadcast(absl::Span<char> data, int root) override
      ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status DoAllgather(absl::Span<const float> input, absl::Span<float> output) override
      ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status DoBarrier() override ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);

 private:
  // What Create builds besides the mesh of all ranks.
  struct HostParts {
    HostLayout layout;
    std::unique_ptr<SharedMemoryReducer> host_memory;  // null when alone on the host
    std::shared_ptr<gloo::Context> leaders;  // the leaders' mesh, on leaders of hierarchical
    std::unique_ptr<LinkedAllreduce> leaders_direct;  // the direct algorithm among them
  };
  static absl::StatusOr<HostParts> FormHostParts(const GroupOptions& options,
                                                 const std::string& listen_address,
                                                 std::shared_ptr<gloo::transport::Device> device);
  GlooGroup(GroupOptions options, std::shared_ptr<gloo::transport::Device> device,
            std::shared_ptr<gloo::Context> context, std::unique_ptr<LinkedAllreduce> direct,
            HostParts host_parts);

  // Runs `op` (which returns a Status and may call into gloo) under the operation lock,
  // turning gloo exceptions into a Status and recording the first failure.
  template <typename Op>
  absl::Status Run(absl::string_view what, Op&& op) ABSL_LOCKS_EXCLUDED(op_mu_, state_mu_);
  absl::Status RunOnMesh(const std::shared_ptr<gloo::Context>& context, absl::Span<float> data,
                         AllreduceAlgorithm algorithm) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  absl::Status RunHierarchical(absl::Span<float> data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // The next tag on `context`. Each context counts its own: only leaders run operations on
  // the leaders' mesh, so one shared counter would leave them out of step with the others.
  uint32_t NextTag(const gloo::Context* context) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_) {
    return next_tag_[context]++;
  }
  std::vector<float>& Staging(size_t count) ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);
  // The classic algorithm instance for (context, algorithm, count), built on first use.
  // Every rank of a context makes the same calls in the same order, so every rank builds the
  // same instances in the same order and their gloo slots match.
  gloo::Algorithm& Classic(const std::shared_ptr<gloo::Context>& context,
                           AllreduceAlgorithm algorithm, size_t count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(op_mu_);

  const GroupOptions options_;
  std::shared_ptr<gloo::transport::Device> device_;
  std::shared_ptr<gloo::Context> context_;  // the mesh of all ranks
  const HostLayout layout_;
  // This host's segment: null when this rank is alone on its host or shared memory is off.
  std::unique_ptr<SharedMemoryReducer> host_memory_;
  std::shared_ptr<gloo::Context> leaders_context_;  // set on leaders of a hierarchical group
  // The direct algorithm of each mesh: all ranks (null alone), the leaders (on leaders).
  const std::unique_ptr<LinkedAllreduce> direct_;
  const std::unique_ptr<LinkedAllreduce> leaders_direct_;
  const AllreducePath path_;

  Mutex op_mu_;  // serializes operations
  // gloo's unbound-buffer collectives match messages by tag; every rank of a context runs
  // the same sequence of operations on it, so a counter per context gives matching tags.
  std::map<const gloo::Context*, uint32_t> next_tag_ ABSL_GUARDED_BY(op_mu_);
  std::map<size_t, std::unique_ptr<std::vector<float>>> staging_ ABSL_GUARDED_BY(op_mu_);
  std::map<std::tuple<const gloo::Context*, AllreduceAlgorithm, size_t>,
           std::unique_ptr<gloo::Algorithm>>
      classic_ ABSL_GUARDED_BY(op_mu_);

  mutable Mutex state_mu_;
  absl::Status failure_ ABSL_GUARDED_BY(state_mu_);
  bool aborted_ ABSL_GUARDED_BY(state_mu_) = false;
};

}  // namespace cosched::collectives
