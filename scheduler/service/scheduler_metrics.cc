// File: scheduler/service/scheduler_metrics.cc
#include "scheduler/service/scheduler_metrics.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cosched::scheduler {
namespace {

constexpr char kNodes[] = "cosched_scheduler_nodes";
constexpr char kNodesHelp[] = "Registered nodes by kind and state.";
constexpr char kJobs[] = "cosched_scheduler_jobs";
constexpr char kJobsHelp[] = "Jobs by state.";
constexpr char kSessionsEnded[] = "cosched_scheduler_worker_sessions_ended_total";
constexpr char kSessionsEndedHelp[] =
    "Worker sessions that ended, by reason (disconnected: the worker or its link went away; "
    "replaced: the node connected again; refused: its registration was refused).";
constexpr char kStoreWrites[] = "cosched_scheduler_state_store_writes_total";
constexpr char kStoreWritesHelp[] =
    "Writes to the scheduler's state store, by kind (record, snapshot) and result (ok, error).";
constexpr char kMembers[] = "cosched_scheduler_members";
constexpr char kMembersHelp[] = "Nodes that are members of a running job, by kind.";

}  // namespace

SchedulerMetrics::SchedulerMetrics(MetricsRegistry* registry)
    : registry_(registry),
      heartbeats_(registry->Counter("cosched_scheduler_heartbeats_total",
                                    "Worker heartbeat messages received.")),
      sessions_open_(registry->Gauge("cosched_scheduler_worker_sessions",
                                     "Worker sessions open now (registered workers).")) {
  for (const char* reason : {"disconnected", "replaced", "refused"}) {
    registry->Counter(kSessionsEnded, kSessionsEndedHelp, {{"reason", reason}});
  }
}

void SchedulerMetrics::SessionOpened() { sessions_open_.Increment(); }

void SchedulerMetrics::SessionClosed(bool replaced) {
  sessions_open_.Decrement();
  registry_
      ->Counter(kSessionsEnded, kSessionsEndedHelp,
                {{"reason", replaced ? "replaced" : "disconnected"}})
      .Increment();
}

void SchedulerMetrics::CallRefused(absl::string_view service, absl::StatusCode code) {
  registry_
      ->Counter("cosched_scheduler_calls_refused_total",
                "Calls refused before they reached the core: the caller was not authenticated, "
                "not allowed, over a per-client limit, or a second session for a live node.",
                {{"service", std::string(service)},
                 {"code", absl::AsciiStrToLower(absl::StatusCodeToString(code))}})
      .Increment();
}

void SchedulerMetrics::SessionRefused() {
  registry_->Counter(kSessionsEnded, kSessionsEndedHelp, {{"reason", "refused"}}).Increment();
}

void SchedulerMetrics::Advance(absl::string_view name, absl::string_view help,
                               const MetricLabels& labels, int64_t total) {
  std::string key(name);
  for (const auto& [k, v] : labels) absl::StrAppend(&key, "|", k, "=", v);
  int64_t& exported = exported_[key];
  // Touched even at 0, so a series exists before its first event (rate() and increase()
  // then see that event instead of taking it for the start of the series).
  prometheus::Counter& counter = registry_->Counter(name, help, labels);
  if (total > exported) {
    counter.Increment(static_cast<double>(total - exported));
    exported = total;
  }
}

void SchedulerMetrics::Update(const SchedulerCore& core) {
  std::map<std::pair<std::string, std::string>, int> nodes;
  for (const char* kind : {"datacenter", "vehicle"}) {
    for (const char* state : {"ready", "ineligible", "lost", "draining"}) nodes[{kind, state}] = 0;
  }
  int eligible_vehicles = 0;
  for (const Node* node : core.Nodes()) {
    ++nodes[{NodeKindName(node->info.kind), NodeStateName(node->state)}];
    if (node->info.kind == NodeKind::kVehicle && node->state == NodeState::kReady) {
      ++eligible_vehicles;
    }
  }
  for (const auto& [key, count] : nodes) {
    registry_->Gauge(kNodes, kNodesHelp, {{"kind", key.first}, {"state", key.second}}).Set(count);
  }
  registry_->Gauge("cosched_scheduler_eligible_vehicles", "Vehicles that may train now.")
      .Set(eligible_vehicles);

  std::map<std::string, int> jobs;
  for (const char* state : {"pending", "running", "succeeded", "failed", "cancelled"}) {
    jobs[state] = 0;
  }
  // No series per job: job ids grow without bound, and a label per job would make the
  // scrape grow with them (`coschedctl get jobs` has each job's generation and members).
  std::map<std::string, int> members = {{"datacenter", 0}, {"vehicle", 0}};
  for (const Job* job : core.Jobs()) {
    ++jobs[JobStateName(job->state)];
    if (job->state != JobState::kRunning) continue;
    for (const NodeId& id : job->members) {
      const Node* node = core.FindNode(id);
      if (node != nullptr) ++members[NodeKindName(node->info.kind)];
    }
  }
  for (const auto& [state, count] : jobs) {
    registry_->Gauge(kJobs, kJobsHelp, {{"state", state}}).Set(count);
  }
  for (const auto& [kind, count] : members) {
    registry_->Gauge(kMembers, kMembersHelp, {{"kind", kind}}).Set(count);
  }
  if (journal_ != nullptr) {
    Advance(kStoreWrites, kStoreWritesHelp, {{"kind", "record"}, {"result", "ok"}},
            journal_->appends());
    Advance(kStoreWrites, kStoreWritesHelp, {{"kind", "record"}, {"result", "error"}},
            journal_->failed_appends());
    Advance(kStoreWrites, kStoreWritesHelp, {{"kind", "snapshot"}, {"result", "ok"}},
            journal_->snapshots());
    Advance(kStoreWrites, kStoreWritesHelp, {{"kind", "snapshot"}, {"result", "error"}},
            journal_->failed_snapshots());
  }
  Advance("cosched_scheduler_generations_total",
          "Generations begun: one each time a running job's member set changes.", {},
          core.counters().generations);

  const CoreCounters& c = core.counters();
  // Every reason the core knows starts at 0 (see Advance).
  for (const char* reason : {"admitted", "grown", "crashed", "vanished", "ineligible", "reclaimed",
                             "cancelled", "drained"}) {
    const auto it = c.membership_changes.find(reason);
    Advance("cosched_scheduler_membership_changes_total", "Member changes of jobs, by reason.",
            {{"reason", reason}}, it == c.membership_changes.end() ? 0 : it->second);
  }
  constexpr char kPlacements[] = "cosched_scheduler_placements_total";
  constexpr char kPlacementsHelp[] =
      "Attempts to place a job's ranks, by whether they placed any (no_room: none fitted).";
  Advance(kPlacements, kPlacementsHelp, {{"result", "placed"}},
          c.placements - c.placements_without_room);
  Advance(kPlacements, kPlacementsHelp, {{"result", "no_room"}}, c.placements_without_room);
  constexpr char kRouted[] = "cosched_scheduler_inference_routed_total";
  constexpr char kRoutedHelp[] =
      "Inference requests routed to a node, by whether it was idle or paused a training rank.";
  Advance(kRouted, kRoutedHelp, {{"target", "idle"}},
          c.inference_routed - c.inference_routed_to_training);
  Advance(kRouted, kRoutedHelp, {{"target", "training"}}, c.inference_routed_to_training);
  for (const auto& [model, routed] : c.inference_routed_by_model) {
    Advance("cosched_scheduler_inference_requests_total",
            "Inference requests routed to a node, by the model they asked for.", {{"model", model}},
            routed);
  }
  for (const ServedModel* model : core.models().Models()) {
    registry_
        ->Gauge("cosched_scheduler_model_serving_version",
                "The version (training step) of each model that serves requests.",
                {{"model", model->name}})
        .Set(model->serving.has_value() ? static_cast<double>(*model->serving) : -1);
  }
  for (const char* reason : {"deadline", "no_nodes", "no_model"}) {
    const auto it = c.inference_refused.find(reason);
    Advance("cosched_scheduler_inference_refused_total", "Inference requests refused, by reason.",
            {{"reason", reason}}, it == c.inference_refused.end() ? 0 : it->second);
  }
  const auto reclaimed = c.preemptions.find("inference_demand");
  Advance("cosched_scheduler_preemptions_total",
          "Nodes taken back from training for inference, by reason.",
          {{"reason", "inference_demand"}},
          reclaimed == c.preemptions.end() ? 0 : reclaimed->second);
  Advance("cosched_scheduler_nodes_given_back_total", "Reserved nodes returned to training.", {},
          c.given_back);
  for (const char* reason : {"serving", "demand", "cold_start"}) {
    const auto it = c.model_loads.find(reason);
    Advance("cosched_scheduler_model_loads_total",
            "Model versions sent to idle nodes to serve, by reason (serving: no node fit to "
            "serve held an acceptable version; demand: its requests were refused for time; "
            "cold_start: a request no holder could answer in time went to a node as it "
            "loads).",
            {{"reason", reason}}, it == c.model_loads.end() ? 0 : it->second);
  }
}

void SchedulerMetrics::CountHeartbeats(int64_t messages) {
  // Not the core's counters().heartbeats: that counts its ReceiveHeartbeat calls, and the
  // service hands it several coalesced heartbeats in one call.
  heartbeats_.Increment(static_cast<double>(messages));
}

void SchedulerMetrics::ObserveAnswer(const std::string& model, absl::Duration age) {
  // Versions are taken every few steps: from milliseconds to minutes old.
  static const std::vector<double> kAgeBuckets = {0.05, 0.1, 0.25, 0.5, 1,   2,   5,
                                                  10,   30,  60,   120, 300, 900, 3600};
  registry_
      ->Histogram("cosched_scheduler_inference_version_age_seconds",
                  "Age of the model version that answered a routed request (staleness), "
                  "by model.",
                  kAgeBuckets, {{"model", model}})
      .Observe(absl::ToDoubleSeconds(age));
}

void SchedulerMetrics::ObserveDecision(absl::string_view handler, absl::Duration took) {
  registry_
      ->Histogram("cosched_scheduler_decision_seconds",
                  "Time the core spent on one event (registration, heartbeat, submission, "
                  "inference routing, tick), placement included.",
                  MetricsRegistry::LatencyBuckets(), {{"handler", std::string(handler)}})
      .Observe(absl::ToDoubleSeconds(took));
}

}  // namespace cosched::scheduler
