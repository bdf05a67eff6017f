// File: sim/control_plane/churn_scenario.h
// The churn scenario: a fleet of data-center nodes and vehicles runs one elastic job while the
// seed draws, about once a second for a minute, a membership-affecting event: a vehicle
// drives away or comes back, a vehicle's link goes silent and returns, a worker is killed
// (and restarted), a data-center node is cut off, an inference burst makes the scheduler
// reclaim a training node (and give it back), the scheduler is killed and restarted. Then the
// fleet heals and the job must finish.
//
// Checked after every event (every instant of virtual time at which something ran):
//  - the scheduler core's own invariants (SchedulerCore::CheckInvariants);
//  - the failure budget is charged only for real faults: a job's failures never exceed the
//    faults that hit its members (departures, reclaims, vehicles leaving and scheduler
//    restarts are free), and a job fails only when those faults exceeded its max_failures;
//  - no member waits forever: none forms or waits for its next generation longer than
//    SimConfig::max_member_wait;
//  - each sample is trained once per epoch, and training never goes back unless no member
//    survived (SimTrainingState, SimWorker::Synced).
// At the end, once churn has stopped: the job succeeded (unless real faults exceeded its
// budget), which takes every member of its newest generation forming it and training it to the
// last step; and no rendezvous key is left behind.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/control_plane/sim_config.h"

namespace cosched::sim {

struct ChurnResult {
  uint64_t seed = 0;
  std::vector<std::string> violations;  // empty: every invariant held
  std::vector<std::string> trace;       // the run's last events (all with full_trace)
  std::string job_state;                // "succeeded", "failed", ...
  int64_t generations = 0;              // the job's newest generation: one per membership change
  int failures_charged = 0;
  int real_faults = 0;
  int churn_events = 0;
  double virtual_seconds = 0;  // until the job ended (or the run stopped)

  bool ok() const { return violations.empty(); }
};

ChurnResult RunChurnScenario(const SimConfig& config);

// The command that replays `config` (its seed and every setting that differs from the
// defaults).
std::string ReplayCommand(const SimConfig& config);

}  // namespace cosched::sim
