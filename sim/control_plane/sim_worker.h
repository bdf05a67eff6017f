// File: sim/control_plane/sim_worker.h
// SimWorker: one worker process in the simulation: the agent's session with the scheduler
// (register, heartbeats, reconnects), the real SchedulerMembership (worker/agent) that turns
// assignments and revocations into generations, and the trainer's membership loop
// (worker/trainer/trainer.cc: JoinGeneration, Step, Recover, ChangeMembership) as events
// instead of a blocking thread. Every decision the trainer makes about generations is made
// here the same way, in the same order; what a step computes is left out (SimTrainingState
// stands in for the model).
//
// Faults act on it from outside: Crash (kill -9, restarted later), Partition (its link goes
// silent, as a vehicle that drives out of coverage), Heal, and SetEligible (a vehicle parks
// and plugs in, or leaves).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/scheduler.pb.h"
#include "scheduler/core/scheduler_core.h"
#include "sim/control_plane/sim_group.h"
#include "sim/control_plane/training_state.h"
#include "worker/agent/scheduler_membership.h"

namespace cosched::sim {

class SimWorld;

class SimWorker {
 public:
  enum class Phase {
    kIdle,      // no job
    kForming,   // published its rendezvous key, waiting for the generation's others
    kSyncing,   // in the state broadcast from rank 0
    kTraining,  // computing a step or in its allreduce
    kWaiting,   // asking its membership for the next generation (MembershipSource::Next)
    kDead,      // the process is not running
  };
  static const char* PhaseName(Phase phase);

  SimWorker(SimWorld* world, scheduler::NodeInfo info);
  ~SimWorker();

  const std::string& id() const { return info_.id; }
  bool is_vehicle() const { return info_.kind == scheduler::NodeKind::kVehicle; }
  Phase phase() const { return phase_; }
  bool alive() const { return phase_ != Phase::kDead; }
  bool partitioned() const { return partitioned_; }
  bool eligible() const { return eligible_; }
  // The job this process runs now (empty when idle) and its generation.
  const std::string& job() const { return job_; }
  int64_t generation() const { return current_.generation; }
  // Since when it has been forming or waiting (for the no-endless-wait invariant).
  absl::Time waiting_since() const { return waiting_since_; }
  int64_t session() const { return session_; }
  // The session its last process closed as it exited cleanly (0: none): what it sent on it
  // before is still delivered.
  int64_t closed_cleanly() const { return closed_cleanly_; }
  // Successful registrations with the scheduler, over every process of this worker.
  int64_t registrations() const { return registrations_; }

  // Starts the process: it connects to the scheduler and heartbeats.
  void Start();
  void Crash();
  // SIGTERM, as Agent::Drain handles it: heartbeats say it drains, it starts nothing new, and
  // its process exits once its run ended (the scheduler revoked it) or after `timeout`.
  // `exited(timed_out)` is called as the process ends.
  void Drain(absl::Duration timeout, std::function<void(bool timed_out)> exited);
  bool draining() const { return draining_; }
  void Partition();
  void Heal();
  void SetEligible(bool eligible);
  // The scheduler's session to this worker ended (restart): it reconnects.
  void SessionLost();

  // Messages from the scheduler (SimWorld::ToWorker).
  void ReceiveAssignment(const cosched::v1::Assignment& assignment);
  void ReceiveRevocation(const cosched::v1::Revocation& revocation);

 private:
  // The process ends (killed, or drained): its group and session go with it.
  void EndProcess(const std::string& how, bool clean);
  void ExitDrained(bool timed_out);
  // --- session
  void Connect();
  void ScheduleHeartbeat();
  void SendHeartbeat();
  scheduler::Heartbeat MakeHeartbeat() const;
  // --- agent: runs of a job
  void StartRun(const cosched::v1::Assignment& assignment);
  void EndRun(const std::string& how);
  void FailRun(const absl::Status& own_error);
  // --- trainer: generations
  void JoinGeneration(const worker::Membership& next);
  void Formed(int64_t attempt);
  void Broadcast(int64_t attempt, const std::vector<int64_t>& steps);
  void Synced(absl::Status status, const Contribution& result, int64_t newest);
  void StartStep();
  void Stepped(int64_t attempt, absl::Status status, const Contribution& result);
  // The generation failed around this rank (a group failure, never its own).
  void GroupFailed(const absl::Status& status);
  void ChangeMembership(int64_t newer_than);
  void AskMembership();
  // Leaves the current generation's group (peers notice after `noticed_after`) and drops it.
  void LeaveGroup(absl::Duration noticed_after, const std::string& why);
  // A new attempt: callbacks of earlier ones (timers, collectives, watches) are ignored.
  int64_t NextAttempt();
  // Runs `fn` after `delay` if this process and attempt are still current.
  void Later(absl::Duration delay, std::string what, std::function<void()> fn);

  SimWorld* const world_;
  const scheduler::NodeInfo info_;
  Phase phase_ = Phase::kDead;
  int64_t process_ = 0;  // incremented when the process dies or starts
  int64_t attempt_ = 0;  // incremented at every phase a callback may outlive
  int64_t session_ = 0;  // incremented at every (re)connect; 0: not connected
  int64_t registrations_ = 0;
  bool connecting_ = false;
  bool partitioned_ = false;
  bool eligible_ = true;
  bool draining_ = false;
  int64_t closed_cleanly_ = 0;
  std::function<void(bool timed_out)> on_drained_;
  absl::Time waiting_since_;

  // The agent's state (worker/agent/agent.cc).
  std::unique_ptr<worker::SchedulerMembership> membership_;
  std::optional<cosched::v1::Assignment> next_job_;
  std::string job_;
  std::string job_reason_;
  struct Report {
    std::string job;
    int64_t generation = -1;
    int64_t step = 0;
    bool finished = false;
    std::string failure;
    int64_t failed_generation = -1;
    std::string generation_failure;
  } report_;

  // The trainer's state (worker/trainer/trainer.cc).
  worker::Membership current_;      // membership_ there
  worker::Membership numbered_as_;  // whose rank numbering the lease table uses
  SimTrainingState state_;
  std::map<std::string, SimTrainingState> checkpoints_;  // its local disk, by job
  std::shared_ptr<SimGroup> group_;
  int64_t op_ = 0;  // the next collective of group_
  struct Watch {
    int64_t scheduler_incarnation = 0;  // the rendezvous table it lives in
    uint64_t id = 0;
  };
  std::optional<Watch> watch_;    // the rendezvous watch while forming
  int64_t wait_newer_than_ = -1;  // while kWaiting: MembershipSource::Next's newer_than
  std::unique_ptr<std::stop_callback<std::function<void()>>> on_superseded_;
};

}  // namespace cosched::sim
