// File: sim/control_plane/sim_group.h
// SimGroup: one generation's collective group, at the level the control plane sees it. Each
// collective is numbered: after forming, 0 is the allreduce of every rank's step and 1 the
// broadcast of the newest state, then one allreduce per training step. A collective completes when
// every rank has arrived at it; a rank that leaves (its process died, its link went down, it gave
// the generation up) fails the collective the others wait in, after the time gloo takes to notice:
// a closed socket at once, a silent peer at the collective timeout. This is what collectives/
// guarantees of a real group (the conformance suite checks it of GlooGroup and the in-process
// fake); the simulation needs it without threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "sim/control_plane/training_state.h"

namespace cosched::sim {

class SimWorld;

// What a rank puts into a collective, and what it gets back.
struct Contribution {
  int64_t pending_generation = -1;  // steps: the newest generation this rank was assigned
  int64_t step = -1;                // the allreduce of steps after forming: this rank's step
  std::vector<int64_t> steps;       // ... its result: every rank's step, by rank
  SimTrainingState state;           // the broadcast: the source's state (empty elsewhere)
};
using CollectiveDone = std::function<void(absl::Status, const Contribution& result)>;

class SimGroup {
 public:
  SimGroup(SimWorld* world, std::string prefix, int world_size)
      : world_(world), prefix_(std::move(prefix)), world_size_(world_size) {}

  // Rank `rank` enters collective `op`. `done` runs (as an event) once it completes or fails.
  void Arrive(int rank, int64_t op, Contribution contribution, CollectiveDone done);
  // Rank `rank` is gone; whoever waits on it fails after `noticed_after`.
  void Leave(int rank, absl::Duration noticed_after, const std::string& why);

 private:
  struct Waiter {
    Contribution contribution;
    CollectiveDone done;
  };
  void Complete(int64_t op);
  void FailWaiters(absl::Duration after);

  SimWorld* const world_;
  const std::string prefix_;
  const int world_size_;
  std::map<int64_t, std::map<int, Waiter>> waiting_;  // by collective, by rank
  std::optional<absl::Status> failed_;
  absl::Time noticed_at_;  // when the ranks waiting on the leaver notice
};

}  // namespace cosched::sim
