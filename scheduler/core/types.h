// File: scheduler/core/types.h
// The scheduler core's vocabulary: nodes (data-center machines and vehicles), jobs and the
// reasons members come and go. Plain values: the core owns the only mutable copies, on its
// one loop thread.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace cosched::scheduler {

using NodeId = std::string;
using JobId = std::string;

enum class NodeKind { kDatacenter, kVehicle };
const char* NodeKindName(NodeKind kind);

// What a worker tells the scheduler about itself when it registers.
struct NodeInfo {
  NodeId id;
  NodeKind kind = NodeKind::kDatacenter;
  int cpus = 1;
  int64_t memory_bytes = 0;
  double link_mbps = 0;  // measured or configured uplink bandwidth
  std::string zone;      // failure domain: rack, site or charging depot
};

// The eligibility signals a vehicle reports with every heartbeat.
struct VehicleSignals {
  bool parked = false;
  bool plugged_in = false;
  double battery_fraction = 0;  // 0..1
  bool unmetered_link = false;
  bool thermal_ok = true;
  // Its predicted departure (InfiniteFuture: none); the edge tier sizes rounds by it.
  absl::Time departs_at = absl::InfiniteFuture();
};

// The model version a node's inference engine answers with, as its worker reports it.
struct ServedVersion {
  std::string model;
  int64_t version = 0;        // the training step whose weights these are
  double test_accuracy = -1;  // evaluated at exactly that step; -1: not evaluated
  absl::Time published;       // when its trainer took it
  JobId job;                  // the job that trained it
};

enum class NodeState {
  kReady,       // heartbeating; may host a rank
  kIneligible,  // a vehicle that is connected but may not train (driving, unplugged, ...)
  kLost,        // missed heartbeats for the TTL
  kDraining,    // its worker is shutting down: no new work; lost once its session closes
};
const char* NodeStateName(NodeState state);

// Why a member left a job or a job was reshaped. Only kCrashed counts against a job's
// failure budget: departures that were announced or expected (a vehicle leaving, a node
// taken back for inference) do not.
enum class DepartureReason {
  kCrashed,     // a data-center node lost its heartbeat or its session, or restarted
  kFailed,      // the worker reported an error of its own (it left the job)
  kVanished,    // a vehicle lost its heartbeat (expected at the edge)
  kIneligible,  // a vehicle turned ineligible and left at a step boundary
  kReclaimed,   // taken back for inference (cluster preemption)
  kCancelled,   // the job was cancelled
  kDrained,     // its worker shut down (SIGTERM: a rolling update, a node drain) and left
};
const char* DepartureReasonName(DepartureReason reason);
bool CountsAsFailure(DepartureReason reason);

enum class KindPreference { kAny, kDatacenter, kVehicle };
const char* KindPreferenceName(KindPreference preference);

// What a job serves while it trains (its YAML's serving section; model_registry.h).
struct ServingSpec {
  std::string model;  // empty: the job serves no model (specs from before models existed)
  std::string promote = "newest";
  int64_t max_staleness_steps = 0;
};

// A job's edge tier (its YAML's edge section; worker/edge): members whose link is slower
// than sync_min_link_mbps each train as a replica of their own in outer rounds instead of
// joining the synchronous group.
struct EdgeSpec {
  bool enabled = false;
  double sync_min_link_mbps = 1000;
};

struct JobSpec {
  std::string name;
  int priority = 0;  // higher first
  int min_workers = 1;
  int max_workers = 1;
  KindPreference kind = KindPreference::kAny;
  int cpus_per_worker = 1;
  int64_t memory_per_worker = 0;
  double min_link_mbps = 0;
  int max_failures = 3;  // crashes tolerated before the job fails
  std::string job_yaml;  // handed to workers unchanged
  // The client that submitted it (its certificate's or token's name; "anonymous" without
  // TLS): it may cancel the job, and per-client limits count its jobs.
  std::string owner;
  ServingSpec serving;
  EdgeSpec edge;
};

enum class JobState { kPending, kRunning, kSucceeded, kFailed, kCancelled };
const char* JobStateName(JobState state);
bool IsTerminal(JobState state);

struct JobProgress {
  int64_t step = 0;
  int64_t epoch = 0;
  double test_accuracy = -1;  // -1 until measured
  std::string checkpoint_dir;
};

// One line of a job's history, with the reason coschedctl shows.
struct JobEvent {
  absl::Time time;
  std::string what;
};

}  // namespace cosched::scheduler
