// File: sim/control_plane/sim_world.h
// SimWorld: everything the simulated workers share, in one process and in virtual time: the
// clock and the event queue, the seeded random source that decides every delay and fault,
// the scheduler (the real SchedulerCore, its real job journal on an in-memory store, the real
// rendezvous KvTable and key cleanup), the network between them, and the record of what
// happened (trace, violations, faults per job) that the invariants read.
//
// The scheduler side runs as it does in scheduler/main.cc, with the gRPC service replaced by
// delayed deliveries: a worker's messages reach the core after a drawn network delay, in
// order per worker (one stream each), and in any order across workers and channels. A
// scheduler restart drops the core, the rendezvous table and every session, and recovers the
// jobs from the journal, as a restarted process does.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "scheduler/core/scheduler_core.h"
#include "scheduler/kv/kv_table.h"
#include "scheduler/service/job_journal.h"
#include "scheduler/service/rendezvous_cleanup.h"
#include "scheduler/store/in_memory_state_store.h"
#include "sim/control_plane/sim_config.h"
#include "sim/control_plane/sim_group.h"

namespace cosched::sim {

class SimWorker;

// One run of the scheduler process: a restart builds a new one over the same disk.
struct SchedulerIncarnation {
  int64_t number = 0;
  std::unique_ptr<scheduler::InMemoryStateStore> store;
  std::unique_ptr<scheduler::StoreJobJournal> journal;
  std::unique_ptr<scheduler::KvTable> kv;
  std::unique_ptr<scheduler::CoreOutbox> sessions;  // to the workers
  std::unique_ptr<scheduler::RendezvousCleanup> cleanup;
  std::unique_ptr<scheduler::SchedulerCore> core;
};

class SimWorld {
 public:
  explicit SimWorld(const SimConfig& config);
  ~SimWorld();

  const SimConfig& config() const { return config_; }
  absl::Time Now() const { return clock_.Now(); }
  absl::Time start() const { return start_; }
  void AdvanceTo(absl::Time t) { clock_.AdvanceTo(t); }
  EventLoop& loop() { return loop_; }

  // Random draws, all from the run's seed.
  absl::Duration Between(absl::Duration low, absl::Duration high);
  bool Chance(double p);
  int Pick(int low, int high);  // inclusive
  std::mt19937_64& rng() { return rng_; }

  // Runs `fn` after `delay` of virtual time.
  void After(absl::Duration delay, std::string name, std::function<void()> fn);

  // --- the scheduler
  bool scheduler_up() const { return scheduler_ != nullptr; }
  int64_t scheduler_incarnation() const { return incarnation_; }
  // Null while the scheduler is down.
  scheduler::SchedulerCore* core() { return scheduler_ ? scheduler_->core.get() : nullptr; }
  scheduler::KvTable* kv() { return scheduler_ ? scheduler_->kv.get() : nullptr; }
  // Kills the scheduler now and starts it again after `down_for`.
  void RestartScheduler(absl::Duration down_for);
  // Sends a message from a worker to the scheduler: `deliver` runs on the scheduler after
  // the worker's network delay, in order with that worker's earlier messages, unless the
  // scheduler restarted or the worker's session `session` ended in between.
  void ToScheduler(SimWorker& worker, int64_t session, std::string what,
                   std::function<void(scheduler::SchedulerCore&)> deliver);
  // The worker's session stream broke (its process died): the scheduler hears it after the
  // worker's last messages, unless the worker has reconnected since.
  void SessionClosed(SimWorker& worker);
  int64_t NextSessionId() { return ++sessions_opened_; }
  // The same for the rendezvous service (the KvTable of the scheduler's incarnation).
  void ToRendezvous(SimWorker& worker, std::string what,
                    std::function<void(scheduler::KvTable&)> deliver);
  // A message from the scheduler to `node`'s worker: `deliver` runs there after the network
  // delay, in order per worker, if the session it was sent on is still the worker's session
  // (the real SessionHub drops messages for a node without a session: the core sends the
  // assignment again when the node registers).
  void ToWorker(const std::string& node, std::string what, std::function<void(SimWorker&)> deliver);
  // One-way network delay between `worker` and the scheduler, drawn now.
  absl::Duration NetworkDelay(const SimWorker& worker);

  // The collective group of generation `prefix`, shared by its members.
  std::shared_ptr<SimGroup> Group(const std::string& prefix, int world_size);

  // --- the workers
  void AddWorker(std::unique_ptr<SimWorker> worker);
  const std::vector<std::unique_ptr<SimWorker>>& workers() const { return workers_; }
  SimWorker* FindWorker(const std::string& id);

  // --- what the invariants read
  void Trace(std::string line);
  void Violation(std::string what);
  const std::vector<std::string>& violations() const { return violations_; }
  const std::deque<std::string>& trace() const { return trace_; }
  // A real fault (a worker process killed, a data-center node cut off) hit `job`'s member.
  void NoteFault(const std::string& job) { ++faults_[job]; }
  int faults(const std::string& job) const;

 private:
  void StartScheduler();
  // The core's periodic Tick, for as long as scheduler incarnation `incarnation` lives.
  void ScheduleTick(int64_t incarnation);
  // Delivers the core's messages to the workers (the SessionHub of the real service).
  class SessionsOutbox;

  const SimConfig config_;
  const absl::Time start_ = absl::UnixEpoch() + absl::Hours(1);
  SimClock clock_;
  EventLoop loop_;
  std::mt19937_64 rng_;
  std::shared_ptr<scheduler::InMemoryStateStore::Disk> disk_;
  std::unique_ptr<SchedulerIncarnation> scheduler_;
  int64_t incarnation_ = 0;
  int64_t sessions_opened_ = 0;
  std::vector<std::unique_ptr<SimWorker>> workers_;
  // When the last message on each worker's stream arrives (streams deliver in order).
  std::map<std::string, absl::Time> to_scheduler_tail_;
  std::map<std::string, absl::Time> to_rendezvous_tail_;
  std::map<std::string, absl::Time> to_worker_tail_;
  std::deque<std::string> trace_;
  std::vector<std::string> violations_;
  struct GroupEntry {
    int world_size = 0;
    std::shared_ptr<SimGroup> group;
  };
  std::map<std::string, GroupEntry> groups_;
  std::map<std::string, int> faults_;
};

}  // namespace cosched::sim
