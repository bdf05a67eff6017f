// File: sim/control_plane/sim_worker.cc
#include "sim/control_plane/sim_worker.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/rendezvous_keys.h"
#include "sim/control_plane/sim_world.h"

namespace cosched::sim {
namespace {

// How soon a peer notices a process that died: its sockets close with it.
constexpr absl::Duration kDeathNoticedMin = absl::Milliseconds(1);
constexpr absl::Duration kDeathNoticedMax = absl::Milliseconds(10);
// SchedulerSession's reconnect backoff (worker/agent/scheduler_session.cc), first attempts.
constexpr absl::Duration kReconnectMin = absl::Milliseconds(200);
constexpr absl::Duration kReconnectMax = absl::Seconds(1);

std::string RankKey(const std::string& prefix, int rank) {
  return absl::StrCat(prefix, "rank_", rank);
}

}  // namespace

const char* SimWorker::PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kIdle:
      return "idle";
    case Phase::kForming:
      return "forming";
    case Phase::kSyncing:
      return "syncing";
    case Phase::kTraining:
      return "training";
    case Phase::kWaiting:
      return "waiting";
    case Phase::kDead:
      return "dead";
  }
  return "?";
}

SimWorker::SimWorker(SimWorld* world, scheduler::NodeInfo info)
    : world_(world), info_(std::move(info)) {}

SimWorker::~SimWorker() {
  on_superseded_.reset();  // before the membership whose token it watches
}

// --- faults and the session ----------------------------------------------------------------

void SimWorker::Start() {
  if (alive()) return;
  ++process_;
  phase_ = Phase::kIdle;
  report_ = Report();
  next_job_.reset();
  session_ = 0;
  connecting_ = false;
  draining_ = false;
  on_drained_ = nullptr;
  world_->Trace(absl::StrCat(id(), ": process started"));
  Connect();
  ScheduleHeartbeat();
}

void SimWorker::Crash() { EndProcess("killed", /*clean=*/false); }

void SimWorker::Drain(absl::Duration timeout, std::function<void(bool timed_out)> exited) {
  if (!alive() || draining_) return;
  world_->Trace(absl::StrCat(id(), ": SIGTERM, draining (", PhaseName(phase_), ")"));
  draining_ = true;
  on_drained_ = std::move(exited);
  next_job_.reset();
  SendHeartbeat();
  if (membership_ == nullptr) return ExitDrained(/*timed_out=*/false);
  const int64_t process = process_;
  world_->After(timeout, "drain timeout", [this, process] {
    if (process == process_ && alive()) ExitDrained(/*timed_out=*/true);
  });
}

void SimWorker::ExitDrained(bool timed_out) {
  std::function<void(bool)> exited = std::move(on_drained_);
  EndProcess(timed_out ? "exits: no revocation within the drain timeout" : "exits, drained",
             /*clean=*/true);
  if (exited) exited(timed_out);
}

void SimWorker::EndProcess(const std::string& how, bool clean) {
  if (!alive()) return;
  // A process that exits closes its stream after what it wrote: that still arrives. A killed
  // one's last messages may be lost with it.
  if (clean) closed_cleanly_ = session_;
  world_->Trace(absl::StrCat(id(), ": ", how, " (", PhaseName(phase_), ", job ",
                             job_.empty() ? "-" : job_, ")"));
  LeaveGroup(world_->Between(kDeathNoticedMin, kDeathNoticedMax), "its process died");
  // The session's stream breaks with the process: the scheduler hears it at once.
  if (session_ != 0) world_->SessionClosed(*this);
  on_superseded_.reset();
  membership_.reset();
  job_.clear();
  group_.reset();
  ++process_;
  phase_ = Phase::kDead;
  session_ = 0;
}

void SimWorker::Partition() {
  if (partitioned_) return;
  world_->Trace(absl::StrCat(id(), ": link down (", PhaseName(phase_), ")"));
  // Nobody hears from it any more: peers wait for it until their collective timeout, and so
  // does it for them (it keeps its group: its next collective fails).
  if (group_ != nullptr) {
    group_->Leave(current_.rank, world_->config().collective_timeout, "its link went down");
  }
  partitioned_ = true;
}

void SimWorker::Heal() {
  if (!partitioned_) return;
  partitioned_ = false;
  world_->Trace(absl::StrCat(id(), ": link up"));
  SessionLost();  // the old stream died while the link was down
}

void SimWorker::SetEligible(bool eligible) {
  if (eligible_ == eligible) return;
  eligible_ = eligible;
  world_->Trace(absl::StrCat(id(), eligible ? ": parked and plugged in" : ": drives away"));
  SendHeartbeat();
}

void SimWorker::SessionLost() {
  session_ = 0;
  if (!alive()) return;
  const int64_t process = process_;
  world_->After(world_->Between(kReconnectMin, kReconnectMax), "reconnect", [this, process] {
    if (process == process_) Connect();
  });
}

void SimWorker::Connect() {
  if (!alive() || partitioned_ || connecting_ || session_ != 0) return;
  connecting_ = true;
  const int64_t process = process_;
  world_->After(world_->NetworkDelay(*this), "register", [this, process] {
    if (process != process_) return;
    connecting_ = false;
    if (partitioned_) return;  // Heal reconnects
    scheduler::SchedulerCore* core = world_->core();
    if (core == nullptr) {  // the scheduler is down: try again
      SessionLost();
      return;
    }
    session_ = world_->NextSessionId();
    // The agent reports the job it runs (SchedulerSessionOptions::running).
    std::optional<std::string> running;
    if (membership_ != nullptr) running = report_.job;
    const absl::Status registered =
        core->RegisterNode(info_, running, running ? report_.generation : -1);
    world_->Trace(absl::StrCat(id(), ": registered", running ? " running " + *running : "",
                               registered.ok() ? "" : " REFUSED: " + registered.ToString()));
    if (registered.ok()) {
      ++registrations_;
    } else {
      SessionLost();
    }
  });
}

void SimWorker::ScheduleHeartbeat() {
  const int64_t process = process_;
  world_->After(world_->config().heartbeat_interval, "heartbeat", [this, process] {
    if (process != process_) return;
    SendHeartbeat();
    ScheduleHeartbeat();
  });
}

void SimWorker::SendHeartbeat() {
  if (!alive() || session_ == 0 || partitioned_) return;
  world_->ToScheduler(*this, session_, "heartbeat",
                      [node = id(), heartbeat = MakeHeartbeat()](auto& core) {
                        (void)core.ReceiveHeartbeat(node, heartbeat);
                      });
}

scheduler::Heartbeat SimWorker::MakeHeartbeat() const {
  scheduler::Heartbeat heartbeat;
  if (is_vehicle()) {
    heartbeat.signals = scheduler::VehicleSignals{eligible_, eligible_, 0.9, true, true};
  }
  // What a real worker's engine holds: the version of the last state it trained or received
  // (a member serves its job's model; one that left keeps its last version).
  if (!state_.empty()) {
    heartbeat.served =
        scheduler::ServedVersion{"churn", state_.step(), -1, absl::UnixEpoch(), job_};
  }
  heartbeat.job = report_.job;
  if (!report_.job.empty()) {
    heartbeat.progress = scheduler::JobProgress{report_.step, 0, -1, ""};
    heartbeat.generation = report_.generation;
  }
  heartbeat.job_finished = report_.finished;
  heartbeat.failure = report_.failure;
  if (draining_) heartbeat.draining = "SIGTERM";
  heartbeat.failed_generation = report_.failed_generation;
  heartbeat.generation_failure = report_.generation_failure;
  return heartbeat;
}

// --- the agent: messages and runs ----------------------------------------------------------

void SimWorker::ReceiveAssignment(const cosched::v1::Assignment& assignment) {
  if (!alive()) return;
  if (membership_ == nullptr || !membership_->Offer(assignment)) next_job_ = assignment;
  if (draining_) next_job_.reset();  // a draining worker starts nothing new
  if (phase_ == Phase::kIdle && next_job_.has_value()) {
    const cosched::v1::Assignment next = *std::move(next_job_);
    next_job_.reset();
    StartRun(next);
  } else if (phase_ == Phase::kWaiting) {
    AskMembership();
  }
}

void SimWorker::ReceiveRevocation(const cosched::v1::Revocation& revocation) {
  if (!alive()) return;
  world_->Trace(
      absl::StrCat(id(), ": revoked from ", revocation.job_id(), " (", revocation.reason(), ")"));
  if (membership_ != nullptr) membership_->Revoke(revocation);
  if (next_job_.has_value() && next_job_->job_id() == revocation.job_id()) next_job_.reset();
  if (membership_ == nullptr && report_.job == revocation.job_id()) report_ = Report();
  if (phase_ == Phase::kWaiting) AskMembership();
}

void SimWorker::StartRun(const cosched::v1::Assignment& assignment) {
  job_ = assignment.job_id();
  membership_ = std::make_unique<worker::SchedulerMembership>(
      job_, world_->config().assignment_wait, [this](int64_t generation, const absl::Status& why) {
        report_.failed_generation = generation;
        report_.generation_failure =
            absl::StrCat(absl::StatusCodeToString(why.code()), ": ", why.message());
        SendHeartbeat();  // HeartbeatSoon: the scheduler re-forms the job sooner
      });
  membership_->Offer(assignment);
  report_ = Report();
  report_.job = job_;
  report_.generation = assignment.generation();
  // Trainer::Create: the state of the job's latest checkpoint on this node's disk, if any.
  auto checkpoint = checkpoints_.find(job_);
  if (checkpoint != checkpoints_.end()) {
    state_ = checkpoint->second;
    state_.ReleaseAllLeases();  // numbered by the generation that wrote it
  } else {
    const SimConfig& config = world_->config();
    absl::StatusOr<SimTrainingState> fresh =
        SimTrainingState::Fresh(config.samples, config.shard_size, /*seed=*/7);
    if (!fresh.ok()) return FailRun(fresh.status());
    state_ = *std::move(fresh);
  }
  current_ = worker::SchedulerMembership::FromAssignment(assignment);
  numbered_as_ = current_;
  world_->Trace(absl::StrCat(id(), ": starts ", job_, " at generation ", current_.generation,
                             " as rank ", current_.rank, "/", current_.world_size, " from step ",
                             state_.step()));
  JoinGeneration(current_);
}

void SimWorker::EndRun(const std::string& how) {
  world_->Trace(absl::StrCat(id(), ": run of ", job_, " ended: ", how));
  LeaveGroup(absl::Milliseconds(1), "it left the job");
  on_superseded_.reset();
  membership_.reset();
  job_.clear();
  NextAttempt();
  phase_ = Phase::kIdle;
  SendHeartbeat();
  if (draining_) return ExitDrained(/*timed_out=*/false);
  if (next_job_.has_value()) {
    const cosched::v1::Assignment next = *std::move(next_job_);
    next_job_.reset();
    StartRun(next);
  }
}

void SimWorker::FailRun(const absl::Status& own_error) {
  report_.failure = std::string(own_error.message());
  EndRun(absl::StrCat("FAILED: ", own_error.ToString()));
}

// --- the trainer: generations --------------------------------------------------------------

void SimWorker::JoinGeneration(const worker::Membership& next) {
  current_ = next;
  const int64_t attempt = NextAttempt();
  phase_ = Phase::kForming;
  waiting_since_ = world_->Now();
  const std::string prefix = GenerationPrefix(job_, next.generation);
  group_ = world_->Group(prefix, next.world_size);
  op_ = 0;

  // The rendezvous client gives up the moment the generation is superseded
  // (GroupOptions::stop, from MembershipSource::SupersededToken).
  on_superseded_.reset();
  if (!world_->config().revert_churn_fix) {
    on_superseded_ = std::make_unique<std::stop_callback<std::function<void()>>>(
        membership_->SupersededToken(next.generation), std::function<void()>([this, attempt] {
          // Runs inside Offer or Revoke: the rendezvous client notices on its own thread.
          Later(absl::ZeroDuration(), "superseded", [this, attempt] {
            if (attempt != attempt_ || phase_ != Phase::kForming) return;
            GroupFailed(absl::CancelledError(
                absl::StrCat("generation ", current_.generation, " superseded while forming")));
          });
        }));
  }

  // Publish this rank's key and wait for every rank's (RendezvousClient over KvTable).
  std::vector<std::string> keys;
  for (int rank = 0; rank < next.world_size; ++rank) keys.push_back(RankKey(prefix, rank));
  const int64_t process = process_;
  world_->ToRendezvous(
      *this, "publish and watch",
      [this, process, attempt, keys, key = RankKey(prefix, next.rank)](scheduler::KvTable& kv) {
        if (process != process_ || attempt != attempt_) return;  // the client went away
        if (absl::Status set = kv.Set(key, id()); !set.ok()) {
          // A generation that ended refuses its keys (CANCELLED): the client gives it up.
          if (!absl::IsCancelled(set)) {
            world_->Violation(
                absl::StrCat(id(), ": rendezvous refused ", key, ": ", set.ToString()));
          }
          world_->After(world_->NetworkDelay(*this), "rendezvous refusal",
                        [this, process, attempt, set] {
                          if (process != process_ || attempt != attempt_) return;
                          if (phase_ == Phase::kForming && !partitioned_) GroupFailed(set);
                        });
          return;
        }
        absl::StatusOr<scheduler::KvTable::WatchId> watch = kv.Watch(
            keys,
            [this, process, attempt](absl::StatusOr<std::vector<scheduler::KvTable::Value>> got) {
              // The answer travels back to the worker.
              world_->After(world_->NetworkDelay(*this), "rendezvous answer",
                            [this, process, attempt, status = got.status()] {
                              if (process != process_ || attempt != attempt_) return;
                              if (phase_ != Phase::kForming || partitioned_) return;
                              watch_.reset();
                              if (!status.ok()) {
                                GroupFailed(status);
                              } else {
                                Formed(attempt);
                              }
                            });
            });
        if (watch.ok() && *watch != scheduler::KvTable::kAlreadyDone) {
          watch_ = Watch{world_->scheduler_incarnation(), *watch};
        }
      });
  Later(world_->config().collective_timeout, "rendezvous timeout", [this, prefix] {
    if (phase_ != Phase::kForming) return;
    const absl::Status timed_out = absl::DeadlineExceededError(
        absl::StrCat("cannot form group ", prefix, " as rank ", current_.rank, "/",
                     current_.world_size, ": rendezvous keys still missing after ",
                     absl::FormatDuration(world_->config().collective_timeout)));
    // Before the fix, a rendezvous that timed out was the worker's own failure.
    if (world_->config().revert_churn_fix) return FailRun(timed_out);
    GroupFailed(timed_out);
  });
}

void SimWorker::Formed(int64_t attempt) {
  // Trainer::JoinGeneration: find the newest state among the members (NewestStateRank)...
  phase_ = Phase::kSyncing;
  Contribution mine;
  mine.step = state_.step();
  group_->Arrive(
      current_.rank, op_++, std::move(mine),
      [this, process = process_, attempt](absl::Status status, const Contribution& result) {
        if (process != process_ || attempt != attempt_) return;
        if (!status.ok()) return GroupFailed(status);
        Broadcast(attempt, result.steps);
      });
}

void SimWorker::Broadcast(int64_t attempt, const std::vector<int64_t>& steps) {
  // ... its holder renumbers its lease table for this generation and broadcasts it.
  const int source = static_cast<int>(std::max_element(steps.begin(), steps.end()) - steps.begin());
  if (current_.rank == source && !current_.new_rank_of_old.empty()) {
    if (absl::Status remapped = state_.Remap(current_.new_rank_of_old); !remapped.ok()) {
      world_->Violation(absl::StrCat(id(), ": cannot renumber the lease table for generation ",
                                     current_.generation, ": ", remapped.ToString()));
      return FailRun(remapped);
    }
    numbered_as_ = current_;
  }
  Contribution mine;
  if (current_.rank == source) mine.state = state_;
  const int64_t newest = steps[source];
  group_->Arrive(
      current_.rank, op_++, std::move(mine),
      [this, process = process_, attempt, newest](absl::Status status, const Contribution& result) {
        if (process != process_ || attempt != attempt_) return;
        Synced(std::move(status), result, newest);
      });
}

void SimWorker::Synced(absl::Status status, const Contribution& result, int64_t newest) {
  if (!status.ok()) return GroupFailed(status);
  state_ = result.state;
  numbered_as_ = current_;
  // Training goes back only as far as its members' newest state: what the lost members had
  // trained past it is lost (their checkpoints are on their own disks).
  if (state_.step() != newest) {
    world_->Violation(absl::StrCat(job_, " generation ", current_.generation, " resumed at step ",
                                   state_.step(), " while a member held step ", newest, " (rank ",
                                   current_.rank, " on ", id(), ")"));
  }
  report_.generation = current_.generation;
  report_.step = state_.step();
  phase_ = Phase::kTraining;
  if (current_.rank == 0) {
    world_->Trace(absl::StrCat(job_, ": generation ", current_.generation, " formed with ",
                               current_.world_size, " members at step ", state_.step()));
  }
  StartStep();
}

void SimWorker::StartStep() {
  const SimConfig& config = world_->config();
  Later(world_->Between(config.step_compute_min, config.step_compute_max), "compute", [this] {
    Contribution mine;
    mine.pending_generation = membership_->PendingGeneration();
    group_->Arrive(current_.rank, op_++, std::move(mine),
                   [this, process = process_, attempt = attempt_](absl::Status status,
                                                                  const Contribution& result) {
                     if (process != process_ || attempt != attempt_) return;
                     Stepped(attempt, std::move(status), result);
                   });
  });
}

void SimWorker::Stepped(int64_t /*attempt*/, absl::Status status, const Contribution& result) {
  if (!status.ok()) return GroupFailed(status);
  const SimConfig& config = world_->config();
  if (absl::Status committed = state_.CommitStep(current_.world_size, config.batch_per_rank);
      !committed.ok()) {
    world_->Violation(absl::StrCat(job_, " on ", id(), ": ", committed.ToString()));
  }
  report_.step = state_.step();
  if (current_.rank == 0 && state_.step() % config.checkpoint_every_steps == 0) {
    checkpoints_[job_] = state_;
  }
  if (state_.step() >= config.steps) {
    report_.finished = true;
    return EndRun(absl::StrCat("finished at step ", state_.step()));
  }
  if (result.pending_generation > current_.generation) return ChangeMembership(current_.generation);
  StartStep();
}

void SimWorker::GroupFailed(const absl::Status& status) {
  // Trainer::NoteGroupFailure: a superseded generation is not reported; anything else is, as
  // the generation's failure (never this rank's own).
  world_->Trace(
      absl::StrCat(id(), ": generation ", current_.generation, " failed: ", status.ToString()));
  LeaveGroup(absl::Milliseconds(1), "it gave the generation up");
  if (!absl::IsCancelled(status)) membership_->GenerationFailed(current_.generation, status);
  ChangeMembership(current_.generation);
}

void SimWorker::ChangeMembership(int64_t newer_than) {
  LeaveGroup(absl::Milliseconds(1), "it moved to the next generation");
  on_superseded_.reset();
  NextAttempt();
  phase_ = Phase::kWaiting;
  waiting_since_ = world_->Now();
  wait_newer_than_ = newer_than;
  Later(world_->config().assignment_wait, "assignment wait limit", [this] {
    if (phase_ != Phase::kWaiting) return;
    FailRun(absl::DeadlineExceededError(absl::StrCat(
        "no assignment after generation ", wait_newer_than_, " of job ", job_,
        " from the scheduler within ", absl::FormatDuration(world_->config().assignment_wait))));
  });
  AskMembership();
}

void SimWorker::AskMembership() {
  if (phase_ != Phase::kWaiting || membership_ == nullptr) return;
  absl::StatusOr<std::optional<worker::Membership>> next =
      membership_->TryNext(numbered_as_, wait_newer_than_);
  if (absl::IsCancelled(next.status())) return EndRun(std::string(next.status().message()));
  if (!next.ok()) return FailRun(next.status());
  if (!next->has_value()) return;  // not yet: the next assignment or revocation calls again
  const worker::Membership& membership = **next;
  if (membership.rank < 0) {
    return FailRun(absl::FailedPreconditionError(
        absl::StrCat("this rank is not a member of generation ", membership.generation)));
  }
  if (membership.world_size < world_->config().min_workers) {
    return FailRun(absl::FailedPreconditionError(absl::StrCat("generation ", membership.generation,
                                                              " has ", membership.world_size,
                                                              " members, below workers.min")));
  }
  JoinGeneration(membership);
}

void SimWorker::LeaveGroup(absl::Duration noticed_after, const std::string& why) {
  if (group_ != nullptr) group_->Leave(current_.rank, noticed_after, why);
  group_.reset();
  if (watch_.has_value()) {
    // The rendezvous client's call ends; the service drops its watch (unless the scheduler
    // restarted since, which dropped it).
    const Watch watch = *watch_;
    watch_.reset();
    if (world_->kv() != nullptr && world_->scheduler_incarnation() == watch.scheduler_incarnation) {
      world_->kv()->Unwatch(watch.id);
    }
  }
}

int64_t SimWorker::NextAttempt() { return ++attempt_; }

void SimWorker::Later(absl::Duration delay, std::string what, std::function<void()> fn) {
  world_->After(delay, std::move(what),
                [this, process = process_, attempt = attempt_, fn = std::move(fn)] {
                  if (process == process_ && attempt == attempt_) fn();
                });
}

}  // namespace cosched::sim
