// File: sim/control_plane/churn_scenario.cc
#include "sim/control_plane/churn_scenario.h"

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sim/control_plane/sim_worker.h"
#include "sim/control_plane/sim_world.h"

namespace cosched::sim {
namespace {

constexpr absl::Duration kSubmitAt = absl::Seconds(1);
constexpr absl::Duration kChurnStartsAt = absl::Seconds(3);
// An inference burst: requests at this rate for this long (enough to cross the reclaim
// threshold of SimWorld's demand policy).
constexpr absl::Duration kBurstLength = absl::Seconds(2);
constexpr absl::Duration kBurstGap = absl::Milliseconds(40);

class ChurnRun {
 public:
  explicit ChurnRun(const SimConfig& config) : config_(config), world_(config) {}

  ChurnResult Run();

 private:
  void AddFleet();
  void SubmitJob();
  void ScheduleChurn();
  void ChurnEvent();
  // The kinds of churn event, each drawn by ChurnEvent.
  void VehicleLeaves();
  void VehicleLink();
  void KillWorker();
  void DrainWorker();
  void CutDatacenterNode();
  void InferenceBurst();
  void SendInference(absl::Time until);
  void Heal();
  // A real fault hits `worker` (killed, or a data-center node cut off): every job it is a
  // member of, in its own or the core's view, until it has registered again after the fault
  // ended, may charge its budget once for it (FaultWindows).
  void StartFault(const SimWorker& worker);
  void EndFault(const SimWorker& worker);
  void ChargeableFaults();
  SimWorker* PickWorker(bool (*wanted)(const SimWorker&));
  void CheckInvariants();
  void CheckEnd();
  const scheduler::Job* TheJob();

  const SimConfig config_;
  SimWorld world_;
  std::string job_id_;
  absl::Time churn_ends_;
  int churn_events_ = 0;
  bool job_ended_ = false;
  absl::Time job_ended_at_;
  scheduler::JobState final_state_ = scheduler::JobState::kPending;
  struct FaultWindow {
    std::set<std::string> jobs;        // the jobs it has counted for
    bool ended = false;                // the worker runs again / its link is back ...
    int64_t registrations_at_end = 0;  // ... and this many registrations had happened then
  };
  std::map<std::string, FaultWindow> faults_;  // by worker
};

void ChurnRun::AddFleet() {
  for (int i = 0; i < config_.datacenter_nodes + config_.vehicles; ++i) {
    scheduler::NodeInfo info;
    const bool vehicle = i >= config_.datacenter_nodes;
    info.id = vehicle ? absl::StrCat("car-", i - config_.datacenter_nodes) : absl::StrCat("dc-", i);
    info.kind = vehicle ? scheduler::NodeKind::kVehicle : scheduler::NodeKind::kDatacenter;
    info.cpus = 4;
    info.memory_bytes = int64_t{8} << 30;
    info.link_mbps = vehicle ? 20 : 1000;
    info.zone = vehicle ? "depot" : "rack-1";
    auto worker = std::make_unique<SimWorker>(&world_, info);
    SimWorker* started = worker.get();
    world_.AddWorker(std::move(worker));
    world_.After(world_.Between(absl::ZeroDuration(), absl::Milliseconds(300)), "start worker",
                 [started] { started->Start(); });
  }
}

void ChurnRun::SubmitJob() {
  scheduler::SchedulerCore* core = world_.core();
  if (core == nullptr) {  // a restart at the very start: try again
    world_.After(absl::Milliseconds(200), "submit", [this] { SubmitJob(); });
    return;
  }
  scheduler::JobSpec spec;
  spec.name = "churn";
  spec.min_workers = config_.min_workers;
  spec.max_workers = config_.max_workers;
  spec.max_failures = config_.max_failures;
  spec.serving.model = "churn";  // members serve versions of it (SimWorker's heartbeats)
  spec.serving.max_staleness_steps = 100;
  absl::StatusOr<scheduler::JobId> id = core->SubmitJob(spec);
  if (!id.ok()) {
    world_.Violation(absl::StrCat("the job was refused: ", id.status().ToString()));
    return;
  }
  job_id_ = *id;
  world_.Trace(absl::StrCat("submitted ", job_id_));
}

void ChurnRun::ScheduleChurn() {
  std::exponential_distribution<double> gap(1.0 / absl::ToDoubleSeconds(config_.churn_interval));
  const absl::Duration next = absl::Seconds(gap(world_.rng()));
  if (world_.Now() + next >= churn_ends_) {
    world_.After(churn_ends_ - world_.Now(), "churn ends", [this] { Heal(); });
    return;
  }
  world_.After(next, "churn", [this] {
    ChurnEvent();
    ScheduleChurn();
  });
}

void ChurnRun::ChurnEvent() {
  ++churn_events_;
  double draw = std::uniform_real_distribution<double>(0, 1)(world_.rng());
  const auto take = [&draw](double share) {
    draw -= share;
    return draw < 0;
  };
  if (take(config_.vehicle_leaves_share)) return VehicleLeaves();
  if (take(config_.vehicle_link_share)) return VehicleLink();
  if (take(config_.worker_killed_share)) return KillWorker();
  if (take(config_.worker_drained_share)) return DrainWorker();
  if (take(config_.datacenter_cut_share)) return CutDatacenterNode();
  if (take(config_.scheduler_restart_share)) {
    if (world_.scheduler_up()) {
      world_.RestartScheduler(world_.Between(absl::Milliseconds(300), absl::Seconds(3)));
    }
    return;
  }
  InferenceBurst();
}

SimWorker* ChurnRun::PickWorker(bool (*wanted)(const SimWorker&)) {
  std::vector<SimWorker*> candidates;
  for (const auto& worker : world_.workers()) {
    if (wanted(*worker)) candidates.push_back(worker.get());
  }
  if (candidates.empty()) return nullptr;
  return candidates[world_.Pick(0, static_cast<int>(candidates.size()) - 1)];
}

void ChurnRun::VehicleLeaves() {
  SimWorker* car = PickWorker([](const SimWorker& w) { return w.is_vehicle() && w.eligible(); });
  if (car == nullptr) return;
  car->SetEligible(false);
  world_.After(world_.Between(absl::Seconds(1), absl::Seconds(8)), "vehicle returns",
               [car] { car->SetEligible(true); });
}

void ChurnRun::VehicleLink() {
  SimWorker* car =
      PickWorker([](const SimWorker& w) { return w.is_vehicle() && !w.partitioned(); });
  if (car == nullptr) return;
  car->Partition();
  world_.After(world_.Between(absl::Seconds(1), absl::Seconds(10)), "link returns",
               [car] { car->Heal(); });
}

void ChurnRun::KillWorker() {
  SimWorker* victim = PickWorker([](const SimWorker& w) { return w.alive(); });
  if (victim == nullptr) return;
  StartFault(*victim);
  victim->Crash();
  world_.After(world_.Between(absl::Seconds(1), absl::Seconds(5)), "worker restarts",
               [this, victim] {
                 victim->Start();
                 EndFault(*victim);
               });
}

void ChurnRun::DrainWorker() {
  SimWorker* worker = PickWorker([](const SimWorker& w) { return w.alive() && !w.draining(); });
  if (worker == nullptr) return;
  worker->Drain(config_.drain_timeout, [this, worker](bool timed_out) {
    // A drain the scheduler never heard of ends like a crash for the job.
    if (timed_out) StartFault(*worker);
    world_.After(world_.Between(absl::Seconds(1), absl::Seconds(5)), "worker restarts",
                 [this, worker] {
                   worker->Start();
                   EndFault(*worker);
                 });
  });
}

void ChurnRun::CutDatacenterNode() {
  // A data-center node that goes silent is lost as a crash (it counts against the budget).
  SimWorker* node =
      PickWorker([](const SimWorker& w) { return !w.is_vehicle() && !w.partitioned(); });
  if (node == nullptr) return;
  StartFault(*node);
  node->Partition();
  world_.After(world_.Between(absl::Seconds(1), absl::Seconds(10)), "link returns", [this, node] {
    node->Heal();
    EndFault(*node);
  });
}

void ChurnRun::InferenceBurst() {
  world_.Trace("inference burst");
  SendInference(world_.Now() + kBurstLength);
}

void ChurnRun::SendInference(absl::Time until) {
  if (world_.Now() >= until || world_.Now() >= churn_ends_) return;
  if (scheduler::SchedulerCore* core = world_.core(); core != nullptr) {
    absl::StatusOr<scheduler::RouteDecision> route =
        core->RouteInference("churn", 1, absl::Milliseconds(100));
    if (route.ok()) {
      const int64_t incarnation = world_.scheduler_incarnation();
      world_.After(route->estimate, "inference done", [this, node = route->node, incarnation] {
        if (world_.core() != nullptr && world_.scheduler_incarnation() == incarnation) {
          world_.core()->InferenceDone(node, 1);
        }
      });
    }
  }
  world_.After(kBurstGap, "inference", [this, until] { SendInference(until); });
}

void ChurnRun::Heal() {
  world_.Trace("churn ends: every link up, every vehicle parked, every worker running");
  for (const auto& worker : world_.workers()) {
    worker->Heal();
    worker->SetEligible(true);
    worker->Start();
    EndFault(*worker);
  }
}

void ChurnRun::StartFault(const SimWorker& worker) {
  faults_[worker.id()] = FaultWindow();
  world_.Trace(absl::StrCat("fault on ", worker.id()));
  ChargeableFaults();
}

void ChurnRun::EndFault(const SimWorker& worker) {
  auto it = faults_.find(worker.id());
  if (it == faults_.end() || it->second.ended) return;
  it->second.ended = true;
  it->second.registrations_at_end = worker.registrations();
}

void ChurnRun::ChargeableFaults() {
  scheduler::SchedulerCore* core = world_.core();
  for (auto it = faults_.begin(); it != faults_.end();) {
    const SimWorker& worker = *world_.FindWorker(it->first);
    FaultWindow& window = it->second;
    std::string core_job;
    if (core != nullptr) {
      if (const scheduler::Node* node = core->FindNode(worker.id()); node != nullptr) {
        core_job = node->job;
      }
    }
    for (const std::string& job : {worker.job(), core_job}) {
      if (!job.empty() && window.jobs.insert(job).second) world_.NoteFault(job);
    }
    // Once it has registered after the fault ended, the scheduler knows what became of it.
    if (window.ended && worker.registrations() > window.registrations_at_end) {
      it = faults_.erase(it);
    } else {
      ++it;
    }
  }
}

const scheduler::Job* ChurnRun::TheJob() {
  scheduler::SchedulerCore* core = world_.core();
  return core == nullptr || job_id_.empty() ? nullptr : core->FindJob(job_id_);
}

void ChurnRun::CheckInvariants() {
  ChargeableFaults();
  scheduler::SchedulerCore* core = world_.core();
  if (core == nullptr) return;
  if (absl::Status consistent = core->CheckInvariants(); !consistent.ok()) {
    world_.Violation(absl::StrCat("scheduler core: ", consistent.ToString()));
  }
  if (const scheduler::Job* job = TheJob(); job != nullptr) {
    const int faults = world_.faults(job->id);
    if (job->failures > faults) {
      world_.Violation(absl::StrCat(
          job->id, " was charged ", job->failures, " failures for ", faults,
          " real faults; last event: ", job->events.empty() ? "-" : job->events.back().what));
    }
    if (job->state == scheduler::JobState::kFailed && faults <= job->spec.max_failures) {
      world_.Violation(absl::StrCat(job->id, " failed after ", faults,
                                    " real faults, within its budget of ", job->spec.max_failures,
                                    ": ", job->events.empty() ? "-" : job->events.back().what));
    }
    if (scheduler::IsTerminal(job->state) && !job_ended_) {
      job_ended_ = true;
      job_ended_at_ = world_.Now();
      final_state_ = job->state;
      world_.Trace(absl::StrCat(job->id, " ", scheduler::JobStateName(job->state)));
    }
  }
  for (const auto& worker : world_.workers()) {
    const bool waiting = worker->phase() == SimWorker::Phase::kForming ||
                         worker->phase() == SimWorker::Phase::kWaiting;
    if (waiting && world_.Now() - worker->waiting_since() > config_.max_member_wait) {
      world_.Violation(absl::StrCat(worker->id(), " has been ",
                                    SimWorker::PhaseName(worker->phase()), " in generation ",
                                    worker->generation(), " of ", worker->job(), " for ",
                                    absl::FormatDuration(world_.Now() - worker->waiting_since())));
    }
  }
}

void ChurnRun::CheckEnd() {
  if (job_ended_) {
    const bool budget_exceeded = world_.faults(job_id_) > config_.max_failures;
    if (final_state_ != scheduler::JobState::kSucceeded &&
        !(budget_exceeded && final_state_ == scheduler::JobState::kFailed)) {
      world_.Violation(absl::StrCat(job_id_, " ended ", scheduler::JobStateName(final_state_)));
    }
    // Old generations' keys go as newer ones are published, the rest when the job ends.
    if (world_.kv() != nullptr && world_.kv()->size() != 0) {
      world_.Violation(
          absl::StrCat(world_.kv()->size(), " rendezvous keys are left after the job ended"));
    }
    return;
  }
  const scheduler::Job* job = TheJob();
  if (job == nullptr) {
    world_.Violation(world_.scheduler_up() ? "the job is unknown to the scheduler"
                                           : "the scheduler is down at the end");
    return;
  }
  std::vector<std::string> members;
  for (const scheduler::NodeId& member : job->members) {
    const SimWorker* worker = world_.FindWorker(member);
    members.push_back(absl::StrCat(member, " ", SimWorker::PhaseName(worker->phase()), " gen ",
                                   worker->generation()));
  }
  world_.Violation(absl::StrCat(job->id, " is still ", scheduler::JobStateName(job->state), " ",
                                absl::FormatDuration(config_.settle_for),
                                " after churn stopped, at generation ", job->generation, " step ",
                                job->progress.step, "; members: ", absl::StrJoin(members, ", ")));
}

ChurnResult ChurnRun::Run() {
  AddFleet();
  world_.After(kSubmitAt, "submit", [this] { SubmitJob(); });
  churn_ends_ = world_.Now() + kChurnStartsAt + config_.churn_for;
  world_.After(kChurnStartsAt, "churn starts", [this] { ScheduleChurn(); });
  const absl::Time give_up = churn_ends_ + config_.settle_for;
  // Runs every instant of virtual time at which something happens, and checks after each. A
  // run ends a little after the job (late messages still arrive) or at `give_up`.
  while (true) {
    const std::optional<absl::Time> next = world_.loop().NextDue();
    if (!next.has_value() || *next > give_up) break;
    if (job_ended_ && *next > job_ended_at_ + absl::Seconds(5)) break;
    world_.AdvanceTo(*next);
    world_.loop().RunDue();
    CheckInvariants();
    if (!world_.violations().empty()) break;  // the first one is the story; stop there
  }
  if (world_.violations().empty()) CheckEnd();

  ChurnResult result;
  result.seed = config_.seed;
  result.violations = world_.violations();
  result.trace.assign(world_.trace().begin(), world_.trace().end());
  result.churn_events = churn_events_;
  result.virtual_seconds =
      absl::ToDoubleSeconds((job_ended_ ? job_ended_at_ : world_.Now()) - world_.start());
  if (job_ended_) result.job_state = scheduler::JobStateName(final_state_);
  if (const scheduler::Job* job = TheJob(); job != nullptr) {
    if (!job_ended_) result.job_state = scheduler::JobStateName(job->state);
    result.generations = job->generation;
    result.failures_charged = job->failures;
    result.real_faults = world_.faults(job->id);
  }
  return result;
}

}  // namespace

ChurnResult RunChurnScenario(const SimConfig& config) { return ChurnRun(config).Run(); }

std::string ReplayCommand(const SimConfig& config) {
  std::string command = absl::StrCat("build/bin/cosched-sim churn --seed ", config.seed);
  if (config.revert_churn_fix) absl::StrAppend(&command, " --revert-churn-fix");
  return absl::StrCat(command, " --trace");
}

}  // namespace cosched::sim
