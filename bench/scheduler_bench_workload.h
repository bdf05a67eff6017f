// File: bench/scheduler_bench_workload.h
// The seeded workload of `cosched-bench scheduler`'s decision part: a cluster of data-center
// nodes and vehicles, the jobs submitted to it, and the stream of departures and arrivals
// that follows. It is fixed before anything runs, independent of any placement, so the
// scheduler core and the full-scan reference see exactly the same sequence of events.
//
// Time is virtual. Node i registers at start + i ms (vehicles send their first heartbeat at
// the same instant), so their heartbeats age in registration order; every later event moves
// the clock by 1 us, except a heartbeat-less tick, which moves it to 1 us past the oldest
// connected node's time-to-live: exactly that node is lost. Departures are such losses and
// eligible vehicles turning ineligible (unplugged); each one returns (re-registers, or turns
// eligible again) a few departures later.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "scheduler/core/types.h"

namespace cosched::bench {

struct WorkloadOptions {
  int nodes = 10000;
  int jobs = 1000;
  int departures = 100;  // each with its return: 2x as many churn events
  uint64_t seed = 1;
};

struct BenchNode {
  scheduler::NodeInfo info;
  scheduler::VehicleSignals signals;  // vehicles: what the first heartbeat reports
  bool eligible = true;               // vehicles: whether `signals` pass the default policy
  absl::Time registered;
};

// One decision-causing call, the same for the core and the reference.
struct BenchEvent {
  enum class Kind {
    kSubmit,      // submit jobs[job]
    kTickLoss,    // a tick at `at` that finds nodes[node] silent for longer than the TTL
    kIneligible,  // nodes[node] (a vehicle) heartbeats unplugged
    kEligible,    // nodes[node] (a vehicle) heartbeats eligible again
    kRegister,    // nodes[node], lost earlier, registers again
  };
  Kind kind = Kind::kSubmit;
  int job = -1;
  int node = -1;
  absl::Time at;  // set the clock to this, then make the call
};
const char* BenchEventKindName(BenchEvent::Kind kind);

struct Workload {
  absl::Time start;
  absl::Duration heartbeat_ttl;
  std::vector<BenchNode> nodes;
  std::vector<scheduler::JobSpec> jobs;
  std::vector<BenchEvent> events;  // jobs.size() submissions first, then the churn
  size_t first_churn_event = 0;
  // The signals of an eligible vehicle and of an unplugged one (kEligible / kIneligible).
  scheduler::VehicleSignals eligible_signals;
  scheduler::VehicleSignals unplugged_signals;
};

// InvalidArgument for sizes below 1 (departures may be 0).
absl::StatusOr<Workload> MakeWorkload(const WorkloadOptions& options);

// The core's id for node i ("n00042").
std::string BenchNodeId(int index);

}  // namespace cosched::bench
