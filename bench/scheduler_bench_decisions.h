// File: bench/scheduler_bench_decisions.h
// Runs a Workload's events through the scheduler core (SchedulerCore on a SimClock with a
// counting outbox, no network) or through the full-scan reference, timing every call that
// can place: one sample per event. Registering the cluster beforehand is setup, not timed.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/scheduler_bench_workload.h"

namespace cosched::bench {

// What the scheduler looked like at one moment (for the report: both did comparable work).
struct ClusterState {
  int busy_nodes = 0;    // hosting a rank
  int running_jobs = 0;  // admitted, not finished
  int waiting_jobs = 0;  // pending, or running below workers.max: placed again on every call
};

struct DecisionRun {
  std::vector<double> latency_ms;  // per event, in workload order
  double busy_seconds = 0;         // the sum of the latencies
  ClusterState after_submissions;
  ClusterState at_end;
  int64_t placements = 0;   // placement passes over the nodes
  int64_t assignments = 0;  // assignment messages sent to members
};

// Hears how many of the events ran, about every 10 s of a run (a slow core takes minutes).
using DecisionProgress = std::function<void(size_t done, size_t total)>;

absl::StatusOr<DecisionRun> RunCoreDecisions(const Workload& workload,
                                             const DecisionProgress& progress = {});
absl::StatusOr<DecisionRun> RunReferenceDecisions(const Workload& workload,
                                                  const DecisionProgress& progress = {});

}  // namespace cosched::bench
