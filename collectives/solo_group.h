// File: collectives/solo_group.h
// SoloGroup: a group of one rank that opens no socket. An edge-tier replica (a vehicle) trains
// alone between outer rounds and must not listen for peers, so it uses this instead of a gloo
// group of one, whose TCP device would listen. CollectiveGroup itself answers every
// operation of a one-rank world, so this holds only the staging buffers and the abort state.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collectives/collective_group.h"
#include "common/mutex.h"

namespace cosched::collectives {

class SoloGroup : public CollectiveGroup {
 public:
  // INVALID_ARGUMENT unless options.world_size is 1 and options.rank 0.
  static absl::StatusOr<std::unique_ptr<CollectiveGroup>> Create(const GroupOptions& options);

  absl::Span<float> StagingBuffer(size_t count) override;
  void Abort(absl::string_view reason) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status health() const override ABSL_LOCKS_EXCLUDED(mu_);

 protected:
  // Never called for a world of one (CollectiveGroup's contract).
  absl::Status DoAllreduce(absl::Span<float> data, AllreduceAlgorithm algorithm) override;
  absl::Status DoBroadcast(absl::Span<char> data, int root) override;
  absl::Status DoAllgather(absl::Span<const float> input, absl::Span<float> output) override;
  absl::Status DoBarrier() override;

 private:
  explicit SoloGroup(GroupIdentity identity) : CollectiveGroup(std::move(identity)) {}

  std::map<size_t, std::vector<float>> staging_;  // by count, like the other groups
  mutable Mutex mu_;
  absl::Status aborted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::collectives
