// File: sim/control_plane/sim_config.h
// What one run of the control-plane simulation looks like: the fleet, the job, the timing of
// the real components it stands in for, and how much churn the seed may draw.
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace cosched::sim {

struct SimConfig {
  uint64_t seed = 1;

  // The fleet and the job: a 5-member elastic job (workers 2..5) on data-center nodes and
  // vehicles that trains through the whole minute of churn, small enough that a run takes a
  // few milliseconds of real time.
  int datacenter_nodes = 3;
  int vehicles = 4;
  int min_workers = 2;
  int max_workers = 5;
  int max_failures = 8;
  int64_t steps = 600;
  uint32_t samples = 240;  // the epoch: every sample once per epoch is checked
  uint32_t shard_size = 6;
  uint32_t batch_per_rank = 4;
  int64_t checkpoint_every_steps = 25;

  // Timing, as the real components use it (configs/jobs, configs/scheduler.yaml).
  absl::Duration heartbeat_interval = absl::Milliseconds(500);
  absl::Duration heartbeat_ttl = absl::Seconds(3);
  absl::Duration tick_interval = absl::Milliseconds(100);
  absl::Duration collective_timeout = absl::Seconds(5);  // also the rendezvous wait
  absl::Duration assignment_wait = absl::Seconds(60);    // worker/agent/agent.cc
  absl::Duration step_compute_min = absl::Milliseconds(100);
  absl::Duration step_compute_max = absl::Milliseconds(200);

  // Churn: one membership-affecting event per `churn_interval` on average, for `churn_for`;
  // then the fleet heals and the job has `settle_for` to finish.
  absl::Duration churn_for = absl::Seconds(60);
  absl::Duration churn_interval = absl::Seconds(1);
  absl::Duration settle_for = absl::Seconds(240);
  // Shares of the churn events; the rest are inference bursts (reclaim and give-back).
  double vehicle_leaves_share = 0.35;     // drives away, comes back 1-8 s later
  double vehicle_link_share = 0.2;        // its link goes silent for 1-10 s
  double worker_killed_share = 0.06;      // kill -9, restarted 1-5 s later: a real fault
  double datacenter_cut_share = 0.03;     // silent for 1-10 s, lost as a crash: a real fault
  double scheduler_restart_share = 0.03;  // down 0.3-3 s, recovers from its journal
  // SIGTERM (a rolling update, a node drain): the worker says it goes, leaves its job when the
  // scheduler revokes it and exits; restarted 1-5 s later. Not a fault, unless the drain timed
  // out (the scheduler never heard): then its peers saw it vanish.
  double worker_drained_share = 0.06;
  absl::Duration drain_timeout = absl::Seconds(30);  // cosched-worker --drain-timeout

  // No member may wait longer than this for its next generation (forming or asking).
  absl::Duration max_member_wait = absl::Seconds(30);

  // Workers behave as before the churn fix (a superseded generation's rendezvous is waited
  // out, and its timeout counts as the worker's own failure): shows that the simulation
  // finds that bug.
  bool revert_churn_fix = false;
  // Keep the whole event trace (otherwise only its tail, for failure reports).
  bool full_trace = false;
};

}  // namespace cosched::sim
