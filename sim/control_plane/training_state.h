// File: sim/control_plane/training_state.h
// SimTrainingState: a rank's training state as the control plane sees it: the step, the real
// LeaseTable that deals the epoch's samples (worker/data), and a ledger of the samples this
// state has trained in its current epoch. The ledger travels with the state (through the
// broadcast from rank 0 and through checkpoints), so "each sample is trained once per epoch"
// is checked of the model's own history: a sample committed twice into one epoch, or an
// epoch that ends without every sample, is an error naming the sample.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/data/lease_table.h"

namespace cosched::sim {

class SimTrainingState {
 public:
  SimTrainingState() = default;  // no state yet (a rank that has not trained)
  static absl::StatusOr<SimTrainingState> Fresh(uint32_t samples, uint32_t shard_size,
                                                uint64_t seed);

  bool empty() const { return !leases_.has_value(); }
  int64_t step() const { return step_; }

  // One training step of a `world`-rank group in which every rank trains `batch_per_rank`
  // samples, as the trainer runs it (PlanStep, everyone finishes, CommitStep), checked
  // against the ledger.
  absl::Status CommitStep(int world, uint32_t batch_per_rank);
  // The trainer's renumbering after a membership change (the newest state's holder does it
  // before broadcasting).
  absl::Status Remap(const std::vector<int>& new_rank_of_old);
  // What the trainer does to a state loaded from a checkpoint (LeaseTable::ReleaseAll).
  void ReleaseAllLeases();

 private:
  int64_t step_ = 0;
  std::optional<worker::LeaseTable> leases_;
  int64_t ledger_epoch_ = 0;
  std::vector<bool> trained_in_epoch_;
};

}  // namespace cosched::sim
