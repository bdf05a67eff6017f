// File: scheduler/core/node.h
// Node: what the core knows about one worker: its registration, liveness, eligibility (for
// vehicles), the job rank it hosts and its history of departures (for the reliability score).
#pragma once

#include <deque>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "scheduler/core/types.h"

namespace cosched::scheduler {

struct Node {
  NodeInfo info;
  NodeState state = NodeState::kReady;
  absl::Time registered;
  absl::Time last_heartbeat;
  VehicleSignals signals;             // vehicles only
  std::string ineligible_reason;      // why state is kIneligible
  JobId job;                          // empty while free
  absl::Time assigned_since;          // when it joined `job` (for the no-thrashing rule)
  std::deque<absl::Time> departures;  // when it left a job without finishing it (recent first)
  // Inference: the worker's reported backlog and service time, plus what was routed to it
  // since (so a burst does not pile onto one node between heartbeats).
  absl::Duration inference_backlog;
  absl::Duration service_per_image;
  int routed_images = 0;
  // Taken back from training for inference (cluster preemption); placement skips it until
  // demand falls and it is given back.
  bool reserved_for_inference = false;
  // The model version its inference engine answers with (it has trained a job); none before.
  std::optional<ServedVersion> served;
  // Its worker session is open. A member whose session closed while its job recovers from a
  // failed generation has died (its peers' connections to it closed at the same moment).
  bool connected = true;

  bool free() const { return job.empty(); }
  bool available() const { return state == NodeState::kReady && free(); }
};

}  // namespace cosched::scheduler
