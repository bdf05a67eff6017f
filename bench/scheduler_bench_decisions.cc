// File: bench/scheduler_bench_decisions.cc
#include "bench/scheduler_bench_decisions.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "bench/scheduler_bench_reference.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "scheduler/core/scheduler_core.h"

namespace cosched::bench {
namespace {

using scheduler::CoreOutbox;
using scheduler::JobState;
using scheduler::NodeKind;
using scheduler::SchedulerCore;
using Kind = BenchEvent::Kind;

class CountingOutbox final : public CoreOutbox {
 public:
  void Assign(const scheduler::NodeId&, const scheduler::Assignment&) override { ++assignments; }
  void Revoke(const scheduler::NodeId&, const scheduler::Revocation&) override { ++revocations; }
  int64_t assignments = 0;
  int64_t revocations = 0;
};

// Times `call` (returning absl::Status) into `run`.
template <typename Call>
absl::Status Timed(DecisionRun& run, Call call) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status = call();
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  run.latency_ms.push_back(ms);
  run.busy_seconds += ms / 1000;
  return status;
}

// Calls `progress` when 10 s passed since the last call.
class ProgressTimer {
 public:
  ProgressTimer(const DecisionProgress& progress, size_t total)
      : progress_(progress), total_(total), last_(std::chrono::steady_clock::now()) {}
  void Done(size_t done) {
    if (!progress_ || std::chrono::steady_clock::now() - last_ < std::chrono::seconds(10)) return;
    progress_(done, total_);
    last_ = std::chrono::steady_clock::now();
  }

 private:
  const DecisionProgress& progress_;
  const size_t total_;
  std::chrono::steady_clock::time_point last_;
};

ClusterState CoreState(const SchedulerCore& core) {
  ClusterState state;
  for (const scheduler::Node* node : core.Nodes()) state.busy_nodes += !node->free();
  for (const scheduler::Job* job : core.Jobs()) {
    state.running_jobs += job->state == JobState::kRunning;
    state.waiting_jobs += job->state == JobState::kPending ||
                          (job->state == JobState::kRunning &&
                           static_cast<int>(job->members.size()) < job->spec.max_workers);
  }
  return state;
}

ClusterState ReferenceState(const ReferenceScheduler& ref) {
  ClusterState state;
  for (int i = 0; i < ref.node_count(); ++i) state.busy_nodes += ref.node(i).job >= 0;
  for (int j = 0; j < ref.job_count(); ++j) state.running_jobs += ref.job(j).running;
  state.waiting_jobs = ref.waiting_jobs();
  return state;
}

}  // namespace

absl::StatusOr<DecisionRun> RunCoreDecisions(const Workload& w, const DecisionProgress& progress) {
  SimClock clock(w.start);
  scheduler::CoreConfig config;
  config.heartbeat_ttl = w.heartbeat_ttl;
  CountingOutbox outbox;
  SchedulerCore core(&clock, config, scheduler::Placer(scheduler::DefaultPlacementProfile()),
                     &outbox);
  for (const BenchNode& node : w.nodes) {
    clock.AdvanceTo(node.registered);
    RETURN_IF_ERROR(core.RegisterNode(node.info));
    if (node.info.kind == NodeKind::kVehicle) {
      scheduler::Heartbeat first;
      first.signals = node.signals;
      RETURN_IF_ERROR(core.ReceiveHeartbeat(node.info.id, first));
    }
  }
  scheduler::Heartbeat eligible, unplugged;
  eligible.signals = w.eligible_signals;
  unplugged.signals = w.unplugged_signals;
  DecisionRun run;
  run.latency_ms.reserve(w.events.size());
  ProgressTimer timer(progress, w.events.size());
  for (size_t i = 0; i < w.events.size(); ++i) {
    const BenchEvent& event = w.events[i];
    clock.AdvanceTo(event.at);
    const scheduler::NodeId* id = event.node >= 0 ? &w.nodes[event.node].info.id : nullptr;
    absl::Status status = Timed(run, [&]() -> absl::Status {
      switch (event.kind) {
        case Kind::kSubmit:
          return core.SubmitJob(w.jobs[event.job]).status();
        case Kind::kTickLoss:
          core.Tick();
          return absl::OkStatus();
        case Kind::kIneligible:
          return core.ReceiveHeartbeat(*id, unplugged);
        case Kind::kEligible:
          return core.ReceiveHeartbeat(*id, eligible);
        case Kind::kRegister:
          return core.RegisterNode(w.nodes[event.node].info);
      }
      return absl::OkStatus();
    });
    if (!status.ok()) {
      return absl::InternalError(absl::StrCat(
          "core, event ", i, " (", BenchEventKindName(event.kind), "): ", status.ToString()));
    }
    if (i + 1 == w.first_churn_event) run.after_submissions = CoreState(core);
    timer.Done(i + 1);
  }
  run.at_end = CoreState(core);
  run.placements = core.counters().placements;
  run.assignments = outbox.assignments;
  return run;
}

absl::StatusOr<DecisionRun> RunReferenceDecisions(const Workload& w,
                                                  const DecisionProgress& progress) {
  ReferenceScheduler ref(w.heartbeat_ttl);
  for (const BenchNode& node : w.nodes) ref.AddNode(node.info, node.eligible, node.registered);
  DecisionRun run;
  run.latency_ms.reserve(w.events.size());
  ProgressTimer timer(progress, w.events.size());
  for (size_t i = 0; i < w.events.size(); ++i) {
    const BenchEvent& event = w.events[i];
    absl::Status status = Timed(run, [&]() -> absl::Status {
      switch (event.kind) {
        case Kind::kSubmit:
          ref.SubmitJob(w.jobs[event.job]);
          break;
        case Kind::kTickLoss:
          ref.Tick(event.at);
          break;
        case Kind::kIneligible:
          ref.Heartbeat(event.node, false, event.at);
          break;
        case Kind::kEligible:
          ref.Heartbeat(event.node, true, event.at);
          break;
        case Kind::kRegister:
          ref.Register(event.node, event.at);
          break;
      }
      return absl::OkStatus();
    });
    if (!status.ok()) return status;
    if (i + 1 == w.first_churn_event) run.after_submissions = ReferenceState(ref);
    timer.Done(i + 1);
  }
  run.at_end = ReferenceState(ref);
  run.placements = ref.counters().scans;
  run.assignments = ref.counters().assignments;
  return run;
}

}  // namespace cosched::bench
