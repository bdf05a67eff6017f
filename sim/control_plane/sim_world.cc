// File: sim/control_plane/sim_world.cc
#include "sim/control_plane/sim_world.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "scheduler/plugins/plugin_registry.h"
#include "scheduler/service/session_hub.h"
#include "sim/control_plane/sim_worker.h"

namespace cosched::sim {
namespace {

constexpr size_t kTraceTail = 300;  // lines kept for a failure report

scheduler::CoreConfig CoreConfigFor(const SimConfig& config) {
  scheduler::CoreConfig core;
  core.heartbeat_ttl = config.heartbeat_ttl;
  // Inference bursts reclaim a training node and give it back within a few seconds, so that a
  // minute of churn sees several of each.
  core.demand.window = absl::Seconds(3);
  core.demand.reclaim_at = 20;
  core.demand.min_hold = absl::Seconds(2);
  core.demand.reclaim_interval = absl::Seconds(1);
  core.demand.give_back_after = absl::Seconds(4);
  return core;
}

}  // namespace

// The real service's SessionHub, as deliveries: assignments and revocations become the
// worker-session messages a worker receives.
class SimWorld::SessionsOutbox final : public scheduler::CoreOutbox {
 public:
  explicit SessionsOutbox(SimWorld* world) : world_(world) {}

  void Assign(const scheduler::NodeId& node, const scheduler::Assignment& assignment) override {
    const cosched::v1::Assignment out = scheduler::AssignmentMessage(assignment);
    world_->ToWorker(node, absl::StrCat("assign ", assignment.job, " gen ", assignment.generation),
                     [out](SimWorker& worker) { worker.ReceiveAssignment(out); });
  }

  void Revoke(const scheduler::NodeId& node, const scheduler::Revocation& revocation) override {
    cosched::v1::Revocation out;
    out.set_job_id(revocation.job);
    out.set_generation(revocation.generation);
    out.set_reason(revocation.reason);
    world_->ToWorker(node, absl::StrCat("revoke ", revocation.job),
                     [out](SimWorker& worker) { worker.ReceiveRevocation(out); });
  }

 private:
  SimWorld* const world_;
};

SimWorld::SimWorld(const SimConfig& config)
    : config_(config),
      clock_(start_),
      loop_(&clock_),
      rng_(config.seed),
      disk_(scheduler::InMemoryStateStore().disk()) {
  StartScheduler();
}

SimWorld::~SimWorld() {
  // The scheduler first: closing its rendezvous table calls back into workers' watches.
  scheduler_.reset();
  workers_.clear();
}

absl::Duration SimWorld::Between(absl::Duration low, absl::Duration high) {
  std::uniform_int_distribution<int64_t> micros(absl::ToInt64Microseconds(low),
                                                absl::ToInt64Microseconds(high));
  return absl::Microseconds(micros(rng_));
}

bool SimWorld::Chance(double p) { return std::bernoulli_distribution(p)(rng_); }

int SimWorld::Pick(int low, int high) {
  return std::uniform_int_distribution<int>(low, high)(rng_);
}

void SimWorld::After(absl::Duration delay, std::string name, std::function<void()> fn) {
  loop_.PostAt(name, clock_.Now() + delay, [fn = std::move(fn)]() mutable { fn(); });
}

absl::Duration SimWorld::NetworkDelay(const SimWorker& worker) {
  absl::Duration delay = worker.is_vehicle()
                             ? Between(absl::Milliseconds(5), absl::Milliseconds(60))
                             : Between(absl::Microseconds(200), absl::Milliseconds(3));
  // Now and then a retransmission: what reorders messages across channels and workers.
  if (Chance(0.02)) delay += Between(absl::Milliseconds(100), absl::Milliseconds(800));
  return delay;
}

void SimWorld::StartScheduler() {
  auto next = std::make_unique<SchedulerIncarnation>();
  next->number = ++incarnation_;
  next->store = std::make_unique<scheduler::InMemoryStateStore>(disk_);
  absl::StatusOr<scheduler::RecoveredJobs> recovered = scheduler::RecoverJobs(*next->store);
  if (!recovered.ok()) {
    Violation(
        absl::StrCat("the scheduler cannot recover its journal: ", recovered.status().ToString()));
    return;
  }
  next->journal = std::make_unique<scheduler::StoreJobJournal>(next->store.get(), *recovered);
  next->kv = std::make_unique<scheduler::KvTable>();
  next->sessions = std::make_unique<SessionsOutbox>(this);
  next->cleanup =
      std::make_unique<scheduler::RendezvousCleanup>(next->sessions.get(), next->kv.get());
  next->core = std::make_unique<scheduler::SchedulerCore>(
      &clock_, CoreConfigFor(config_), scheduler::Placer(scheduler::DefaultPlacementProfile()),
      next->cleanup.get());
  next->core->set_journal(next->journal.get());
  if (!recovered->jobs.empty()) {
    const absl::Status restored = next->core->Restore(
        std::move(recovered->jobs), recovered->next_job_number, recovered->models);
    if (!restored.ok()) {
      Violation(absl::StrCat("the scheduler cannot restore its jobs: ", restored.ToString()));
    }
  }
  scheduler_ = std::move(next);
  Trace(absl::StrCat("scheduler incarnation ", incarnation_, " up"));
  ScheduleTick(incarnation_);
}

void SimWorld::ScheduleTick(int64_t incarnation) {
  After(config_.tick_interval, "tick", [this, incarnation] {
    if (incarnation != incarnation_ || scheduler_ == nullptr) return;  // that process died
    scheduler_->core->Tick();
    ScheduleTick(incarnation);
  });
}

void SimWorld::RestartScheduler(absl::Duration down_for) {
  Trace(absl::StrCat("scheduler killed, down for ", absl::FormatDuration(down_for)));
  scheduler_.reset();
  ++incarnation_;  // messages in flight to the dead incarnation are lost
  to_scheduler_tail_.clear();
  to_rendezvous_tail_.clear();
  to_worker_tail_.clear();
  for (const auto& worker : workers_) worker->SessionLost();
  After(down_for, "scheduler restart", [this] { StartScheduler(); });
}

void SimWorld::ToScheduler(SimWorker& worker, int64_t session, std::string what,
                           std::function<void(scheduler::SchedulerCore&)> deliver) {
  if (worker.partitioned() || scheduler_ == nullptr) return;
  absl::Time& tail = to_scheduler_tail_[worker.id()];
  tail = std::max(tail, Now() + NetworkDelay(worker));
  const int64_t incarnation = incarnation_;
  loop_.PostAt(what, tail, [this, &worker, session, incarnation, deliver = std::move(deliver)] {
    if (incarnation != incarnation_ || scheduler_ == nullptr) return;
    if (worker.partitioned()) return;
    if (worker.session() != session && worker.closed_cleanly() != session) return;
    deliver(*scheduler_->core);
  });
}

void SimWorld::SessionClosed(SimWorker& worker) {
  if (worker.partitioned() || scheduler_ == nullptr) return;
  absl::Time& tail = to_scheduler_tail_[worker.id()];
  tail = std::max(tail, Now() + NetworkDelay(worker));
  const int64_t incarnation = incarnation_;
  loop_.PostAt("session closed", tail, [this, &worker, incarnation] {
    if (incarnation != incarnation_ || scheduler_ == nullptr) return;
    if (worker.session() != 0) return;  // replaced by a newer session
    scheduler_->core->NodeDisconnected(worker.id());
  });
}

void SimWorld::ToRendezvous(SimWorker& worker, std::string what,
                            std::function<void(scheduler::KvTable&)> deliver) {
  if (worker.partitioned() || scheduler_ == nullptr) return;
  absl::Time& tail = to_rendezvous_tail_[worker.id()];
  tail = std::max(tail, Now() + NetworkDelay(worker));
  const int64_t incarnation = incarnation_;
  loop_.PostAt(what, tail, [this, &worker, incarnation, deliver = std::move(deliver)] {
    if (incarnation != incarnation_ || scheduler_ == nullptr || worker.partitioned()) return;
    deliver(*scheduler_->kv);
  });
}

void SimWorld::ToWorker(const std::string& node, std::string what,
                        std::function<void(SimWorker&)> deliver) {
  SimWorker* worker = FindWorker(node);
  if (worker == nullptr || worker->session() == 0 || worker->partitioned()) return;
  const int64_t session = worker->session();
  absl::Time& tail = to_worker_tail_[node];
  tail = std::max(tail, Now() + NetworkDelay(*worker));
  loop_.PostAt(what, tail, [worker, session, deliver = std::move(deliver)] {
    if (worker->session() != session || worker->partitioned()) return;
    deliver(*worker);
  });
}

void SimWorld::AddWorker(std::unique_ptr<SimWorker> worker) {
  workers_.push_back(std::move(worker));
}

SimWorker* SimWorld::FindWorker(const std::string& id) {
  for (const auto& worker : workers_) {
    if (worker->id() == id) return worker.get();
  }
  return nullptr;
}

void SimWorld::Trace(std::string line) {
  trace_.push_back(absl::StrFormat("%9.3fs  %s", absl::ToDoubleSeconds(Now() - start_), line));
  if (!config_.full_trace && trace_.size() > kTraceTail) trace_.pop_front();
}

void SimWorld::Violation(std::string what) {
  Trace(absl::StrCat("VIOLATION: ", what));
  violations_.push_back(
      absl::StrFormat("at %.3fs: %s", absl::ToDoubleSeconds(Now() - start_), what));
}

int SimWorld::faults(const std::string& job) const {
  auto it = faults_.find(job);
  return it == faults_.end() ? 0 : it->second;
}

std::shared_ptr<SimGroup> SimWorld::Group(const std::string& prefix, int world_size) {
  auto [it, inserted] = groups_.try_emplace(prefix);
  if (inserted) {
    it->second.world_size = world_size;
    it->second.group = std::make_shared<SimGroup>(this, prefix, world_size);
  } else if (it->second.world_size != world_size) {
    Violation(absl::StrCat("generation ", prefix, " was assigned with ", it->second.world_size,
                           " and with ", world_size, " members"));
  }
  return it->second.group;
}

}  // namespace cosched::sim
