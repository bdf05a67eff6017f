// File: sim/control_plane/training_state.cc
#include "sim/control_plane/training_state.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched::sim {

absl::StatusOr<SimTrainingState> SimTrainingState::Fresh(uint32_t samples, uint32_t shard_size,
                                                         uint64_t seed) {
  SimTrainingState state;
  ASSIGN_OR_RETURN(worker::LeaseTable leases,
                   worker::LeaseTable::Create(samples, shard_size, seed));
  state.leases_ = std::move(leases);
  state.trained_in_epoch_.assign(samples, false);
  return state;
}

absl::Status SimTrainingState::CommitStep(int world, uint32_t batch_per_rank) {
  if (empty()) return absl::FailedPreconditionError("a step on a rank without training state");
  const std::vector<std::vector<uint32_t>> plans =
      leases_->PlanStep(std::vector<uint32_t>(world, batch_per_rank));
  if (leases_->epoch() != ledger_epoch_) {  // PlanStep started the next epoch
    ledger_epoch_ = leases_->epoch();
    std::fill(trained_in_epoch_.begin(), trained_in_epoch_.end(), false);
  }
  std::vector<uint32_t> done(world);
  for (int rank = 0; rank < world; ++rank) {
    for (uint32_t sample : plans[rank]) {
      if (trained_in_epoch_[sample]) {
        return absl::DataLossError(absl::StrCat("sample ", sample, " trained twice in epoch ",
                                                ledger_epoch_, " (again at step ", step_ + 1,
                                                " by rank ", rank, ")"));
      }
      trained_in_epoch_[sample] = true;
    }
    done[rank] = static_cast<uint32_t>(plans[rank].size());
  }
  RETURN_IF_ERROR(leases_->CommitStep(done));
  ++step_;
  if (leases_->epoch_done()) {
    const auto missing = std::find(trained_in_epoch_.begin(), trained_in_epoch_.end(), false);
    if (missing != trained_in_epoch_.end()) {
      return absl::DataLossError(absl::StrCat("epoch ", ledger_epoch_, " ended at step ", step_,
                                              " without sample ",
                                              missing - trained_in_epoch_.begin()));
    }
  }
  return absl::OkStatus();
}

absl::Status SimTrainingState::Remap(const std::vector<int>& new_rank_of_old) {
  if (empty()) return absl::FailedPreconditionError("a remap on a rank without training state");
  return leases_->Remap(new_rank_of_old);
}

void SimTrainingState::ReleaseAllLeases() {
  if (!empty()) leases_->ReleaseAll();
}

}  // namespace cosched::sim
