// File: scheduler/service/scheduler_metrics.cc
#include "scheduler/service/scheduler_metrics.h"

#include "absl/strings/str_cat.h"

namespace cosched::scheduler {
namespace {

constexpr char kNodes[] = "cosched_scheduler_nodes";
constexpr char kNodesHelp[] = "Registered nodes by kind and state.";
constexpr char kJobs[] = "cosched_scheduler_jobs";
constexpr char kJobsHelp[] = "Jobs by state.";
constexpr char kGeneration[] = "cosched_scheduler_job_generation";
constexpr char kGenerationHelp[] = "Current generation of each active job.";
constexpr char kMembers[] = "cosched_scheduler_job_members";
constexpr char kMembersHelp[] = "Current members of each active job.";

}  // namespace

SchedulerMetrics::SchedulerMetrics(MetricsRegistry* registry) : registry_(registry) {}

void SchedulerMetrics::Advance(absl::string_view name, absl::string_view help,
                               const MetricLabels& labels, int64_t total) {
  std::string key(name);
  for (const auto& [k, v] : labels) absl::StrAppend(&key, "|", k, "=", v);
  int64_t& exported = exported_[key];
  if (total > exported) {
    registry_->Counter(name, help, labels).Increment(static_cast<double>(total - exported));
    exported = total;
  }
}

void SchedulerMetrics::Update(const SchedulerCore& core) {
  std::map<std::pair<std::string, std::string>, int> nodes;
  for (const char* kind : {"datacenter", "vehicle"}) {
    for (const char* state : {"ready", "ineligible", "lost"}) nodes[{kind, state}] = 0;
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
  std::set<std::string> active;
  for (const Job* job : core.Jobs()) {
    ++jobs[JobStateName(job->state)];
    if (IsTerminal(job->state)) continue;
    active.insert(job->id);
    registry_->Gauge(kGeneration, kGenerationHelp, {{"job", job->id}})
        .Set(static_cast<double>(std::max<int64_t>(job->generation, 0)));
    registry_->Gauge(kMembers, kMembersHelp, {{"job", job->id}})
        .Set(static_cast<double>(job->members.size()));
  }
  for (const auto& [state, count] : jobs) {
    registry_->Gauge(kJobs, kJobsHelp, {{"state", state}}).Set(count);
  }
  // Ended jobs drop their series, so the label set stays as small as the active job list.
  for (const std::string& id : job_series_) {
    if (active.contains(id)) continue;
    registry_->RemoveGauge(kGeneration, kGenerationHelp, {{"job", id}});
    registry_->RemoveGauge(kMembers, kMembersHelp, {{"job", id}});
  }
  job_series_ = std::move(active);

  const CoreCounters& c = core.counters();
  for (const auto& [reason, total] : c.membership_changes) {
    Advance("cosched_scheduler_membership_changes_total", "Member changes of jobs, by reason.",
            {{"reason", reason}}, total);
  }
  Advance("cosched_scheduler_placements_total", "Placement decisions made.", {}, c.placements);
  Advance("cosched_scheduler_heartbeats_total", "Worker heartbeats received.", {}, c.heartbeats);
  Advance("cosched_scheduler_inference_routed_total", "Inference requests routed to a node.", {},
          c.inference_routed);
  for (const auto& [reason, total] : c.inference_refused) {
    Advance("cosched_scheduler_inference_refused_total", "Inference requests refused, by reason.",
            {{"reason", reason}}, total);
  }
  for (const auto& [reason, total] : c.preemptions) {
    Advance("cosched_scheduler_preemptions_total",
            "Nodes taken back from training for inference, by reason.", {{"reason", reason}},
            total);
  }
  Advance("cosched_scheduler_nodes_given_back_total", "Reserved nodes returned to training.", {},
          c.given_back);
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
