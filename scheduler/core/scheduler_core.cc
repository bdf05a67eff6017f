// File: scheduler/core/scheduler_core.cc
#include "scheduler/core/scheduler_core.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/rendezvous_keys.h"

namespace cosched::scheduler {
namespace {

// Generations in a row that fail with every member connected before that counts as one
// failure of the job.
constexpr int kFailedGenerationsPerFailure = 3;

// Whether `node`'s engine answers with a version of `model` that `range` accepts.
bool ServesAcceptable(const Node& node, const std::string& model, const VersionRange& range) {
  return node.served.has_value() && node.served->model == model &&
         range.Contains(node.served->version);
}

// A model load or a request for weights that brought nothing by then is tried again.
constexpr absl::Duration kModelWorkTimeout = absl::Seconds(30);

absl::Status ValidateSpec(const JobSpec& spec) {
  if (spec.min_workers < 1) return absl::InvalidArgumentError("workers.min must be >= 1");
  if (spec.max_workers < spec.min_workers) {
    return absl::InvalidArgumentError(absl::StrCat(
        "workers.max (", spec.max_workers, ") is below workers.min (", spec.min_workers, ")"));
  }
  if (spec.cpus_per_worker < 0 || spec.memory_per_worker < 0 || spec.min_link_mbps < 0) {
    return absl::InvalidArgumentError("resource requests must not be negative");
  }
  if (spec.max_failures < 0) return absl::InvalidArgumentError("max_failures must be >= 0");
  if (!spec.serving.model.empty()) {
    if (absl::StatusOr<PromotionPolicy> policy = ParsePromotionPolicy(spec.serving.promote);
        !policy.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("serving.promote: ", policy.status().message()));
    }
    if (spec.serving.max_staleness_steps < 0) {
      return absl::InvalidArgumentError("serving.max_staleness_steps must be >= 0");
    }
  }
  return absl::OkStatus();
}

}  // namespace

SchedulerCore::SchedulerCore(const Clock* clock, CoreConfig config, Placer placer,
                             CoreOutbox* outbox)
    : clock_(clock),
      config_(std::move(config)),
      placer_(std::move(placer)),
      outbox_(outbox),
      demand_(config_.demand) {}

absl::Status SchedulerCore::RegisterNode(const NodeInfo& info,
                                         const std::optional<JobId>& running_job,
                                         int64_t running_generation) {
  if (info.id.empty()) return absl::InvalidArgumentError("node id is empty");
  if (info.cpus < 1) {
    return absl::InvalidArgumentError(absl::StrCat("node ", info.id, ": cpus must be >= 1"));
  }
  const absl::Time now = clock_->Now();
  const bool was_placeholder = placeholders_.erase(info.id) > 0;
  auto [it, inserted] = nodes_.try_emplace(info.id);
  Node& node = it->second;
  if (!inserted && !node.free()) {
    const Job* job = FindJob(node.job);
    // Still the same run if it runs this job at its generation or an older one: the job may
    // have moved on while the worker was away (across a scheduler restart, or a member lost
    // meanwhile), and the assignment re-sent below brings it to the newest. Found by the
    // control-plane simulation (sim/control_plane): charging that as a crash failed jobs
    // within their budget.
    const bool same_run = running_job.has_value() && *running_job == node.job && job != nullptr &&
                          running_generation >= 0 && running_generation <= job->generation;
    // Running nothing, a member that never confirmed the job never heard of it: it stays
    // and is told again below.
    const bool never_heard =
        !running_job.has_value() && job != nullptr && !job->confirmed.contains(info.id);
    if (!same_run && !never_heard) {
      Depart(
          node,
          info.kind == NodeKind::kVehicle ? DepartureReason::kVanished : DepartureReason::kCrashed,
          "re-registered without its job (worker restarted)");
    } else if (same_run) {
      Confirm(jobs_.at(node.job), info.id);
    }
  } else if (running_job.has_value()) {
    // It still runs a job that no longer counts it as a member (revoked while it was away,
    // e.g. across a scheduler restart, when the message had no session to go to): stop it.
    Revoke(info.id, Revocation{*running_job, running_generation,
                               absl::StrCat("node ", info.id, " is no longer a member of job ",
                                            *running_job)});
  }
  const bool resend = !inserted && !node.free();
  node.info = info;
  node.registered = now;
  node.connected = true;
  NoteHeartbeat(node, now);
  node.state = NodeState::kReady;
  // It may have missed messages while disconnected: tell it again what it runs.
  if (resend) SendAssignment(jobs_.at(node.job), node.info.id);
  // A member of a restored job has no eligibility signals until its first heartbeat: judging
  // it on none would evict a vehicle that is in fact still parked and training.
  if (!(was_placeholder && resend)) ApplyEligibility(node);
  Refile(node, /*resources_changed=*/true);
  Reconcile();
  return absl::OkStatus();
}

void SchedulerCore::SendAssignment(const Job& job, const NodeId& node) {
  const auto it = std::find(job.members.begin(), job.members.end(), node);
  if (it == job.members.end()) return;
  Assignment assignment = job.assignment;
  assignment.rank = static_cast<int>(it - job.members.begin());
  if (assignment.rank >= job.assignment.world) {  // the edge members follow the group's
    assignment.rank = 0;
    assignment.world = 1;
    assignment.previous_rank.clear();
    assignment.restore_from_checkpoint = false;
    assignment.edge_tier = true;
  }
  Assign(node, std::move(assignment));
}

bool SchedulerCore::InEdgeTier(const Job& job, const NodeId& node) const {
  if (!job.spec.edge.enabled) return false;
  const auto it = nodes_.find(node);
  return it != nodes_.end() && it->second.info.link_mbps < job.spec.edge.sync_min_link_mbps;
}

void SchedulerCore::Assign(const NodeId& node, Assignment assignment) {
  outgoing_.push_back(Outgoing{node, std::move(assignment)});
}

void SchedulerCore::Revoke(const NodeId& node, Revocation revocation) {
  outgoing_.push_back(Outgoing{node, std::move(revocation)});
}

void SchedulerCore::ApplyEligibility(Node& node) {
  if (node.info.kind != NodeKind::kVehicle || node.state == NodeState::kLost ||
      node.state == NodeState::kDraining) {
    return;
  }
  node.ineligible_reason = IneligibleReason(node.signals, config_.vehicle);
  node.state = node.ineligible_reason.empty() ? NodeState::kReady : NodeState::kIneligible;
  if (node.state == NodeState::kIneligible && !node.free()) {
    Depart(node, DepartureReason::kIneligible, node.ineligible_reason);
  }
  Refile(node);
}

void SchedulerCore::DepartDead(Node& node, const std::string& detail) {
  by_last_heartbeat_.erase({node.last_heartbeat, &node});
  node.state = NodeState::kLost;  // until its worker registers again
  Refile(node);
  Depart(node, DepartureReason::kCrashed, detail);
}

void SchedulerCore::NoteHeartbeat(Node& node, absl::Time now) {
  by_last_heartbeat_.erase({node.last_heartbeat, &node});
  node.last_heartbeat = now;
  by_last_heartbeat_.insert({now, &node});
}

bool SchedulerCore::SilentLongest::operator()(const std::pair<absl::Time, Node*>& a,
                                              const std::pair<absl::Time, Node*>& b) const {
  if (a.first != b.first) return a.first < b.first;
  return a.second->info.id < b.second->info.id;
}

void SchedulerCore::Refile(const Node& node, bool resources_changed) {
  available_.Update(node, placeholders_.contains(node.info.id), resources_changed);
}

absl::Status SchedulerCore::ReceiveHeartbeat(const NodeId& id, const Heartbeat& heartbeat) {
  auto it = nodes_.find(id);
  if (it == nodes_.end() || it->second.state == NodeState::kLost) {
    return absl::NotFoundError(absl::StrCat("node ", id, " is not registered; register again"));
  }
  Node& node = it->second;
  ++counters_.heartbeats;
  NoteHeartbeat(node, clock_->Now());
  node.signals = heartbeat.signals;
  node.inference_backlog = heartbeat.inference_backlog;
  node.served = heartbeat.served;
  if (node.served.has_value()) models_.Observe(*node.served, clock_->Now());
  if (heartbeat.service_per_image > absl::ZeroDuration()) {
    node.service_per_image = heartbeat.service_per_image;
  }
  node.routed_images = 0;  // the reported backlog now includes what was routed
  if (!node.free()) {
    auto job_it = jobs_.find(node.job);
    if (job_it != jobs_.end()) {
      Job& job = job_it->second;
      // Running the current generation: it has its assignment. (A worker whose run ended
      // keeps naming its last job and generation until the scheduler revokes it.)
      if (heartbeat.job == job.id && heartbeat.generation == job.generation) Confirm(job, id);
      // Progress counts from members of the current generation only: a member still in an
      // old one (it has not heard of the new one yet) reports steps nobody else took.
      const bool current = heartbeat.generation < 0 || heartbeat.generation == job.generation;
      if (current && heartbeat.progress.has_value() &&
          heartbeat.progress->step >= job.progress.step) {
        const JobProgress& progress = *heartbeat.progress;
        if (progress.step > job.progress.step) {  // training moves again
          job.failed_generation = -1;
          job.failed_in_a_row = 0;
        }
        if (progress.checkpoint_dir != job.progress.checkpoint_dir) {
          MarkDirty(job);  // where a restart resumes from: worth a record at once
        } else if (progress.step != job.progress.step || progress.epoch != job.progress.epoch ||
                   progress.test_accuracy != job.progress.test_accuracy) {
          progress_dirty_.insert(job.id);
        }
        job.progress = progress;
      }
      if (!heartbeat.failure.empty()) {
        Depart(node, DepartureReason::kFailed, heartbeat.failure);
      } else if (heartbeat.failed_generation >= 0 &&
                 heartbeat.failed_generation == job.generation && job.state == JobState::kRunning) {
        GenerationFailed(job, node, heartbeat.generation_failure);
      } else if (heartbeat.job_finished) {
        // The finisher's own evaluation of the final parameters (every member ends with the
        // same ones) is the job's result, even when the finisher never heard of the newest
        // generation: it ended before joining it.
        if (heartbeat.progress.has_value() && heartbeat.progress->test_accuracy >= 0 &&
            heartbeat.progress->step >= job.progress.step) {
          job.progress.test_accuracy = heartbeat.progress->test_accuracy;
        }
        FinishJob(job, JobState::kSucceeded, absl::StrCat("finished at step ", job.progress.step));
      }
    }
  }
  if (!heartbeat.draining.empty()) Drain(node, heartbeat.draining);
  ApplyEligibility(node);
  Reconcile();
  return absl::OkStatus();
}

void SchedulerCore::Drain(Node& node, const std::string& why) {
  if (node.state == NodeState::kDraining) return;  // every heartbeat of a draining worker says so
  node.state = NodeState::kDraining;
  // Its job re-forms without it now; the revocation stops its training at a step boundary.
  if (!node.free()) Depart(node, DepartureReason::kDrained, why);
  Refile(node);
}

void SchedulerCore::ContributionRejected(const NodeId& id, const JobId& job_id,
                                         const std::string& why) {
  auto node = nodes_.find(id);
  if (node != nodes_.end()) {
    node->second.departures.push_front(clock_->Now());
    if (node->second.departures.size() > 16) node->second.departures.pop_back();
  }
  auto job = jobs_.find(job_id);
  if (job != jobs_.end()) Record(job->second, absl::StrCat(id, "'s contribution rejected: ", why));
  Reconcile();
}

void SchedulerCore::Confirm(Job& job, const NodeId& node) {
  if (job.confirmed.insert(node).second) MarkDirty(job);
}

void SchedulerCore::NodeDisconnected(const NodeId& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  Node& node = it->second;
  node.connected = false;
  if (node.state == NodeState::kDraining) {
    // Its worker has shut down as it said it would: gone now, not after the heartbeat TTL.
    by_last_heartbeat_.erase({node.last_heartbeat, &node});
    node.state = NodeState::kLost;
    Refile(node);
  }
  if (!node.free()) {
    const Job* job = FindJob(node.job);
    if (job != nullptr && job->state == JobState::kRunning && job->failed_generation >= 0) {
      DepartDead(node, absl::StrCat("its session closed while generation ", job->failed_generation,
                                    " failed"));
    }
  }
  Reconcile();
}

void SchedulerCore::GenerationFailed(Job& job, const Node& reporter, const std::string& why) {
  const int64_t failed = job.generation;
  job.failed_generation = failed;
  ++job.failed_in_a_row;
  const std::string detail =
      absl::StrCat("generation ", failed, " failed on ", reporter.info.id, ": ", why);
  // Members whose sessions closed have died: their peers' connections to them closed too.
  bool departed = false;
  for (const NodeId& member : std::vector<NodeId>(job.members)) {
    Node& node = nodes_.at(member);
    if (!node.connected && !placeholders_.contains(member)) {
      DepartDead(node, absl::StrCat("its session closed; ", detail));
      departed = true;
    }
  }
  if (departed || job.state != JobState::kRunning) return;
  // Every member is still connected: a peer stalled or could not be reached in time. Form
  // the same members again; generations that keep failing count against max_failures, so a
  // job whose members cannot reach each other ends instead of re-forming forever.
  Record(job, detail);
  if (job.failed_in_a_row % kFailedGenerationsPerFailure == 0) {
    ++job.failures;
    if (job.failures > job.spec.max_failures) {
      FailJob(job, absl::StrCat(job.failures, " failures exceed max_failures ",
                                job.spec.max_failures, " (last: ", job.failed_in_a_row,
                                " generations in a row failed; ", detail, ")"));
      return;
    }
  }
  auto [reshape, first] = reshaped_.try_emplace(job.id);
  if (first) reshape->second.previous_members = job.members;
  reshape->second.reasons.push_back(detail);
  reshape->second.reform = true;
  ++counters_.membership_changes["generation_failed"];
}

absl::StatusOr<JobId> SchedulerCore::SubmitJob(const JobSpec& spec) {
  if (absl::Status valid = ValidateSpec(spec); !valid.ok()) return valid;
  // Restored ids are never reused, even if a journal's next number lagged behind them.
  while (jobs_.contains(absl::StrCat("j-", next_job_))) ++next_job_;
  if (!spec.serving.model.empty()) {
    for (const auto& [other_id, other] : jobs_) {
      if (!IsTerminal(other.state) && other.spec.serving.model == spec.serving.model) {
        return absl::FailedPreconditionError(
            absl::StrCat("model '", spec.serving.model, "' is trained by job ", other_id,
                         " already; give this job another serving.model"));
      }
    }
  }
  const uint64_t order = next_job_++;
  const JobId id = absl::StrCat("j-", order);
  Job& job = jobs_[id];
  job.id = id;
  job.spec = spec;
  job.submit_order = order;
  job.submitted = clock_->Now();
  DeclareModel(job);
  Record(job, absl::StrCat("submitted: ", spec.min_workers, "-", spec.max_workers, " workers, ",
                           KindPreferenceName(spec.kind), " nodes, priority ", spec.priority));
  queue_.insert(&job);
  placement_pass_due_ = true;
  Reconcile();
  return id;
}

absl::Status SchedulerCore::CancelJob(const JobId& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job ", id));
  if (IsTerminal(it->second.state)) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", id, " is already ", JobStateName(it->second.state)));
  }
  FinishJob(it->second, JobState::kCancelled, "cancelled by the user");
  Reconcile();
  return absl::OkStatus();
}

void SchedulerCore::Tick() {
  const absl::Time now = clock_->Now();
  while (!by_last_heartbeat_.empty() &&
         now - by_last_heartbeat_.begin()->first > config_.heartbeat_ttl) {
    Node& node = *by_last_heartbeat_.begin()->second;
    by_last_heartbeat_.erase(by_last_heartbeat_.begin());
    node.state = NodeState::kLost;
    if (!node.free()) {
      Depart(node,
             node.info.kind == NodeKind::kVehicle ? DepartureReason::kVanished
                                                  : DepartureReason::kCrashed,
             absl::StrCat("no heartbeat for ", absl::FormatDuration(now - node.last_heartbeat)));
    }
    Refile(node);
  }
  BalanceInference();
  Reconcile();
  KeepModelsServed();  // on the nodes placement left free
  Flush();
}

void SchedulerCore::BalanceInference() {
  const absl::Time now = clock_->Now();
  if (demand_.ShouldReclaim(now)) {
    // The member whose loss costs its job least: lowest priority, largest world; only
    // data-center nodes (vehicles are far from inference clients), only from jobs above their
    // minimum, only nodes that have been with their job for min_hold.
    Node* victim = nullptr;
    double victim_cost = 0;
    for (auto& [id, node] : nodes_) {
      if (node.free() || node.info.kind != NodeKind::kDatacenter ||
          now - node.assigned_since < demand_.policy().min_hold) {
        continue;
      }
      const Job& job = jobs_.at(node.job);
      if (job.state != JobState::kRunning ||
          static_cast<int>(job.members.size()) <= job.spec.min_workers) {
        continue;
      }
      const double cost =
          (1.0 + std::max(0, job.spec.priority)) / static_cast<double>(job.members.size());
      if (victim == nullptr || cost < victim_cost) {
        victim = &node;
        victim_cost = cost;
      }
    }
    if (victim != nullptr) {
      const int pressure = demand_.Pressure(now);
      victim->reserved_for_inference = true;
      reserved_.insert(victim->info.id);
      Depart(*victim, DepartureReason::kReclaimed,
             absl::StrCat("taken for inference (", pressure,
                          " requests refused or pausing "
                          "training in the last ",
                          absl::FormatDuration(demand_.policy().window), ")"));
      ++counters_.preemptions["inference_demand"];
      demand_.Reclaimed(now);
    }
    return;
  }
  if (reserved_.empty() || !demand_.ShouldGiveBack(now)) return;
  for (const NodeId& id : reserved_) {
    Node& node = nodes_.at(id);
    node.reserved_for_inference = false;
    Refile(node);
    ++counters_.given_back;
  }
  reserved_.clear();
}

void SchedulerCore::Depart(Node& node, DepartureReason reason, const std::string& detail) {
  auto job_it = jobs_.find(node.job);
  node.job.clear();
  Refile(node);
  // Only departures the node caused count against its reliability: not being taken back,
  // a cancelled job, or a shutdown it announced.
  if (reason != DepartureReason::kReclaimed && reason != DepartureReason::kCancelled &&
      reason != DepartureReason::kDrained) {
    node.departures.push_front(clock_->Now());
    if (node.departures.size() > 16) node.departures.pop_back();
  }
  if (job_it == jobs_.end()) return;
  Job& job = job_it->second;
  const std::string why =
      absl::StrCat("node ", node.info.id, " ", DepartureReasonName(reason), ": ", detail);
  // The node itself must stop too: a vehicle leaves at its next step boundary, a reclaimed
  // node turns to inference. (A lost node gets it if it ever reconnects.)
  Revoke(node.info.id,
         Revocation{job.id, job.generation, why,
                    reason == DepartureReason::kReclaimed ? demand_.policy().notice_budget
                                                          : absl::ZeroDuration()});
  auto [reshape, first] = reshaped_.try_emplace(job.id);
  if (first) reshape->second.previous_members = job.members;
  reshape->second.reasons.push_back(why);
  job.members.erase(std::remove(job.members.begin(), job.members.end(), node.info.id),
                    job.members.end());
  job.confirmed.erase(node.info.id);
  placement_pass_due_ = true;  // it may grow back onto a node that was available all along
  ++counters_.membership_changes[DepartureReasonName(reason)];
  Record(job, why);
  if (CountsAsFailure(reason)) {
    ++job.failures;
    if (job.failures > job.spec.max_failures) {
      FailJob(job, absl::StrCat(job.failures, " failures exceed max_failures ",
                                job.spec.max_failures, " (last: ", why, ")"));
    }
  }
}

void SchedulerCore::FailJob(Job& job, const std::string& reason) {
  FinishJob(job, JobState::kFailed, reason);
}

void SchedulerCore::FinishJob(Job& job, JobState state, const std::string& reason) {
  ended_generations_.emplace_back(job.id, std::numeric_limits<int64_t>::max());
  for (const NodeId& member : job.members) {
    Node& node = nodes_.at(member);
    node.job.clear();
    Refile(node);
    Revoke(member, Revocation{job.id, job.generation, reason});
  }
  job.members.clear();
  job.state = state;
  queue_.erase(&job);
  job.no_room.waiting = false;
  reshaped_.erase(job.id);
  Record(job, absl::StrCat(JobStateName(state), ": ", reason));
}

bool SchedulerCore::StillNoRoom(Job& job, int needed) {
  if (job.no_room.epoch == 0) return false;  // never found wanting
  if (job.no_room.epoch == available_.epoch()) {
    if (job.no_room.feasible >= needed) return false;
    job.no_room.waiting = true;
    return true;
  }
  const std::optional<AvailableNodes::Arrivals> arrived =
      available_.ArrivedSince(job.no_room.epoch);
  if (!arrived.has_value()) return false;
  PlacementRequest request;  // what the filters read: the members matter only to scores
  request.spec = &job.spec;
  request.job = job.id;
  request.now = clock_->Now();
  int could_fit = job.no_room.feasible;
  for (auto it = arrived->begin; it != arrived->end; ++it) {
    if (available_.contains(**it) && !placer_.Reject(request, **it).has_value()) ++could_fit;
  }
  if (could_fit >= needed) return false;
  job.no_room.epoch = available_.epoch();
  job.no_room.feasible = could_fit;
  job.no_room.exact = false;
  job.no_room.waiting = true;
  return true;
}

Placement SchedulerCore::Place(const Job& job, int count) {
  Placement placement = placer_.Place(RequestFor(job), available_.List(), count, next_scan_start_);
  next_scan_start_ = placement.next_start;
  ++counters_.placements;
  return placement;
}

void SchedulerCore::NoteNoRoom(Job& job, const Placement& placement) {
  job.no_room.waiting = true;
  job.no_room.epoch = available_.epoch();
  job.no_room.feasible = placement.feasible;
  job.no_room.exact = true;
  job.no_room.refusals = SummarizeRejections(placement.rejections, "");
}

std::string SchedulerCore::WaitingReason(const Job& job) const {
  if (IsTerminal(job.state)) return "";
  if (!job.waiting_note.empty()) return job.waiting_note;
  if (!job.no_room.waiting) return "";
  const std::string& unavailable = available_.UnavailableSummary();
  const std::string& refusals = job.no_room.refusals;
  std::string why =
      absl::StrCat(unavailable, !unavailable.empty() && !refusals.empty() ? ", " : "", refusals);
  if (why.empty()) why = "no nodes registered";
  if (job.state == JobState::kPending) {
    return absl::StrCat("needs ", job.spec.min_workers, " nodes, ",
                        job.no_room.exact ? "" : "at most ", job.no_room.feasible, " fit (", why,
                        ")");
  }
  return absl::StrCat("at ", job.members.size(), " of ", job.spec.max_workers,
                      " workers; no node fits (", why, ")");
}

PlacementRequest SchedulerCore::RequestFor(const Job& job) const {
  PlacementRequest request;
  request.spec = &job.spec;
  request.job = job.id;
  request.now = clock_->Now();
  std::vector<const Node*> members;
  for (const NodeId& member : job.members) members.push_back(&nodes_.at(member));
  request.SetMembers(std::move(members));
  return request;
}

bool SchedulerCore::QueueBefore::operator()(const Job* a, const Job* b) const {
  if (a->spec.priority != b->spec.priority) return a->spec.priority > b->spec.priority;
  return a->submit_order < b->submit_order;
}

void SchedulerCore::AdmitPending(const std::vector<Job*>& order) {
  for (Job* job : order) {
    if (job->state != JobState::kPending || StillNoRoom(*job, job->spec.min_workers)) continue;
    const Placement placement = Place(*job, job->spec.max_workers);
    if (placement.feasible < job->spec.min_workers) {
      NoteNoRoom(*job, placement);
      ++counters_.placements_without_room;
      continue;  // a smaller job behind it may still fit (backfill)
    }
    auto [reshape, first] = reshaped_.try_emplace(job->id);
    if (first) reshape->second.previous_members = job->members;
    reshape->second.reasons.push_back(
        job->generation < 0 ? "admitted" : "re-admitted after falling below workers.min");
    for (const Node* chosen : placement.chosen) {
      Node& node = nodes_.at(chosen->info.id);
      node.job = job->id;
      node.assigned_since = clock_->Now();
      Refile(node);
      job->members.push_back(node.info.id);
    }
    job->state = JobState::kRunning;
    job->no_room.waiting = false;
    job->waiting_note.clear();
    MarkDirty(*job);
    ++counters_.membership_changes["admitted"];
  }
}

void SchedulerCore::Grow(Job& job) {
  const int room = job.spec.max_workers - static_cast<int>(job.members.size());
  if (room <= 0 || StillNoRoom(job, 1)) return;
  const Placement placement = Place(job, room);
  // Every node that fits is taken (or none fits): no room until another becomes available.
  if (placement.looked_at_all && placement.feasible <= room) {
    NoteNoRoom(job, placement);
    job.no_room.feasible = 0;  // it takes every node that fitted
    job.no_room.waiting = placement.chosen.empty();
  }
  if (placement.chosen.empty()) {
    ++counters_.placements_without_room;
    return;
  }
  auto [reshape, first] = reshaped_.try_emplace(job.id);
  if (first) reshape->second.previous_members = job.members;
  std::vector<std::string> added;
  for (const Node* chosen : placement.chosen) {
    Node& node = nodes_.at(chosen->info.id);
    node.job = job.id;
    node.assigned_since = clock_->Now();
    Refile(node);
    job.members.push_back(node.info.id);
    added.push_back(node.info.id);
  }
  reshape->second.reasons.push_back(absl::StrCat("grew by ", absl::StrJoin(added, ", ")));
  MarkDirty(job);
  ++counters_.membership_changes["grown"];
  job.no_room.waiting = false;
}

void SchedulerCore::Reconcile() {
  // Jobs that lost members: below the minimum they wait for nodes again (their state lives
  // on in the last checkpoint).
  for (auto& [id, reshape] : reshaped_) {
    Job& job = jobs_.at(id);
    if (job.state == JobState::kRunning &&
        static_cast<int>(job.members.size()) < job.spec.min_workers) {
      const std::string reason = absl::StrCat("below workers.min (", job.members.size(), " of ",
                                              job.spec.min_workers, "): waiting for nodes");
      for (const NodeId& member : job.members) {
        Node& node = nodes_.at(member);
        node.job.clear();
        Refile(node);
        Revoke(member, Revocation{job.id, job.generation, reason});
      }
      job.members.clear();
      job.state = JobState::kPending;
      placement_pass_due_ = true;
      // The revoked members dropped their state: if the job is re-admitted in this same call,
      // even on the same nodes, that is a new generation restoring from the checkpoint.
      reshape.previous_members.clear();
      Record(job, reason);
    }
  }
  if (placement_pass_due_ || available_.epoch() != last_pass_epoch_) {
    const std::vector<Job*> order(queue_.begin(), queue_.end());  // placing may not reorder it
    AdmitPending(order);
    // Growth comes after every pending job had its chance, in the same queue order.
    for (Job* job : order) {
      if (job->state == JobState::kRunning) Grow(*job);
    }
    placement_pass_due_ = false;
    last_pass_epoch_ = available_.epoch();
  }
  std::map<JobId, Reshape> reshaped;
  reshaped.swap(reshaped_);
  for (auto& [id, reshape] : reshaped) {
    Job& job = jobs_.at(id);
    if (job.state != JobState::kRunning) continue;
    // Left and came back: no change (unless the generation itself failed).
    if (job.members == reshape.previous_members && !reshape.reform) continue;
    ++job.generation;
    ++counters_.generations;
    Record(job, absl::StrCat("generation ", job.generation, ": ", job.members.size(), " members (",
                             absl::StrJoin(reshape.reasons, "; "), ")"));
    PublishGeneration(job, reshape.previous_members);
  }
  Flush();
}

void SchedulerCore::Flush() {
  if (journal_ != nullptr) {
    const absl::Time now = clock_->Now();
    for (auto it = progress_dirty_.begin(); it != progress_dirty_.end();) {
      const auto at = journaled_at_.find(*it);
      if (at == journaled_at_.end() || now - at->second >= config_.progress_journal_interval) {
        dirty_.insert(*it);
        it = progress_dirty_.erase(it);
      } else {
        ++it;  // written by a later call (Tick comes often) once the interval has passed
      }
    }
    std::vector<NodeKind> member_kinds;
    for (const JobId& id : dirty_) {
      const Job& job = jobs_.at(id);
      member_kinds.clear();
      for (const NodeId& member : job.members) member_kinds.push_back(nodes_.at(member).info.kind);
      journal_->JobChanged(job, member_kinds);
      journaled_at_[id] = now;
      progress_dirty_.erase(id);
    }
  } else {
    progress_dirty_.clear();
  }
  dirty_.clear();
  std::vector<Outgoing> outgoing;
  outgoing.swap(outgoing_);
  for (const Outgoing& out : outgoing) {
    if (const auto* assignment = std::get_if<Assignment>(&out.message)) {
      outbox_->Assign(out.node, *assignment);
    } else if (const auto* revocation = std::get_if<Revocation>(&out.message)) {
      outbox_->Revoke(out.node, *revocation);
    } else if (const auto* load = std::get_if<ModelLoad>(&out.message)) {
      outbox_->LoadModel(out.node, *load);
    } else {
      outbox_->RequestWeights(out.node, std::get<WeightsRequest>(out.message));
    }
  }
  // After the messages that moved members on: a member still forming an old generation
  // hears of the new one before its keys go.
  std::vector<std::pair<JobId, int64_t>> ended;
  ended.swap(ended_generations_);
  for (const auto& [job, generation] : ended) outbox_->GenerationsEnded(job, generation);
}

absl::Status SchedulerCore::Restore(std::vector<JournaledJob> jobs, uint64_t next_job_number,
                                    const std::vector<ModelChoice>& models) {
  if (!nodes_.empty() || !jobs_.empty()) {
    return absl::FailedPreconditionError(
        "restore: the core already has nodes or jobs (restore before any node registers)");
  }
  // Everything is checked before anything changes, so a refused restore leaves the core empty.
  std::map<NodeId, JobId> member_of;
  std::set<JobId> ids;
  for (const JournaledJob& restored : jobs) {
    const Job& job = restored.job;
    if (job.id.empty()) return absl::InvalidArgumentError("restore: a job has no id");
    if (!ids.insert(job.id).second) {
      return absl::InvalidArgumentError(absl::StrCat("restore: job ", job.id, " appears twice"));
    }
    if (absl::Status valid = ValidateSpec(job.spec); !valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("restore: job ", job.id, ": ", valid.message()));
    }
    if (restored.member_kinds.size() != job.members.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("restore: job ", job.id, " has ", job.members.size(), " members but ",
                       restored.member_kinds.size(), " member kinds"));
    }
    if ((job.state == JobState::kRunning) == job.members.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("restore: job ", job.id, " is ",
                                                     JobStateName(job.state), " with ",
                                                     job.members.size(), " members"));
    }
    for (const NodeId& member : job.members) {
      if (member.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("restore: job ", job.id, " has a member without a node id"));
      }
      const auto [it, fresh] = member_of.emplace(member, job.id);
      if (!fresh) {
        return absl::InvalidArgumentError(absl::StrCat(
            "restore: node ", member, " is a member of both ", it->second, " and ", job.id));
      }
    }
  }
  const absl::Time now = clock_->Now();
  for (JournaledJob& restored : jobs) {
    Job& job = jobs_[restored.job.id] = std::move(restored.job);
    if (!IsTerminal(job.state)) queue_.insert(&job);
    DeclareModel(job);
    next_job_ = std::max(next_job_, job.submit_order + 1);
    for (size_t i = 0; i < job.members.size(); ++i) {
      Node& node = nodes_[job.members[i]];
      node.info.id = job.members[i];
      node.info.kind = restored.member_kinds[i];
      node.state = NodeState::kReady;
      node.registered = now;
      NoteHeartbeat(node, now);  // its worker gets one TTL to reconnect
      node.job = job.id;
      node.assigned_since = now;
      placeholders_.insert(node.info.id);
      Refile(node);
    }
    if (job.state == JobState::kPending) {
      job.waiting_note = "scheduler restarted: waiting for nodes";
    } else if (job.state == JobState::kRunning) {
      Record(job, absl::StrCat("scheduler restarted: waiting for ", job.members.size(),
                               " members to reconnect"));
    }
  }
  next_job_ = std::max(next_job_, next_job_number);
  for (const ModelChoice& choice : models) models_.RestoreChoice(choice);
  placement_pass_due_ = true;
  dirty_.clear();  // nothing changed that the journal does not hold
  return absl::OkStatus();
}

void SchedulerCore::PublishGeneration(Job& job, const std::vector<NodeId>& previous_members) {
  // The synchronous group's members: survivors first, in their old rank order, so the lowest
  // survivor becomes rank 0 and broadcasts the committed state; newcomers after them. The
  // edge tier's members follow, each a group of its own. (A node's tier follows from its
  // link, so a member's old rank is its place among the old members of its tier.)
  std::vector<NodeId> previous_group;
  for (const NodeId& id : previous_members) {
    if (!InEdgeTier(job, id)) previous_group.push_back(id);
  }
  std::vector<NodeId> ordered;
  std::vector<int> previous_rank;
  for (size_t old_rank = 0; old_rank < previous_group.size(); ++old_rank) {
    const NodeId& id = previous_group[old_rank];
    if (std::find(job.members.begin(), job.members.end(), id) != job.members.end()) {
      ordered.push_back(id);
      previous_rank.push_back(static_cast<int>(old_rank));
    }
  }
  const bool has_survivor = !ordered.empty();
  for (const NodeId& id : job.members) {
    if (!InEdgeTier(job, id) && std::find(ordered.begin(), ordered.end(), id) == ordered.end()) {
      ordered.push_back(id);
      previous_rank.push_back(-1);
    }
  }
  const int group_size = static_cast<int>(ordered.size());
  for (const NodeId& id : job.members) {
    if (InEdgeTier(job, id)) ordered.push_back(id);
  }
  job.members = ordered;
  Assignment assignment;
  assignment.job = job.id;
  assignment.generation = job.generation;
  assignment.world = group_size;
  assignment.store_prefix = GenerationPrefix(job.id, job.generation);
  assignment.previous_rank = previous_rank;
  assignment.restore_from_checkpoint = !has_survivor && job.generation > 0;
  assignment.job_yaml = job.spec.job_yaml;
  assignment.reason = job.events.empty() ? "" : job.events.back().what;
  job.assignment = assignment;
  for (const NodeId& member : job.members) SendAssignment(job, member);
  ended_generations_.emplace_back(job.id, job.generation);
}

void SchedulerCore::DeclareModel(const Job& job) {
  const ServingSpec& serving = job.spec.serving;
  if (serving.model.empty()) return;
  // A finished job's model keeps serving, but a running job's rules win over its.
  if (IsTerminal(job.state) && models_.Find(serving.model) != nullptr) return;
  const absl::StatusOr<PromotionPolicy> policy = ParsePromotionPolicy(serving.promote);
  models_.Declare(serving.model, job.id, policy.value_or(PromotionPolicy::kNewest),
                  serving.max_staleness_steps);
}

absl::StatusOr<std::string> SchedulerCore::ResolveModel(const std::string& requested) const {
  if (!requested.empty()) return requested;
  if (!config_.default_model.empty()) return config_.default_model;
  const std::vector<const ServedModel*> models = models_.Models();
  if (models.size() == 1) return models.front()->name;
  std::vector<std::string> names;
  for (const ServedModel* model : models) names.push_back(model->name);
  return absl::InvalidArgumentError(
      absl::StrCat("the request names no model and the scheduler has no default_model; models: ",
                   names.empty() ? "none yet" : absl::StrJoin(names, ", ")));
}

absl::StatusOr<RouteDecision> SchedulerCore::RouteInference(const std::string& requested_model,
                                                            int images, absl::Duration budget) {
  if (nodes_.empty()) {  // the first thing to fix, whatever the model
    ++counters_.inference_refused["no_nodes"];
    return absl::ResourceExhaustedError("no worker is registered");
  }
  absl::StatusOr<std::string> model = ResolveModel(requested_model);
  if (!model.ok()) {
    ++counters_.inference_refused["no_model"];
    return model.status();
  }
  absl::StatusOr<VersionRange> versions = models_.Acceptable(*model);
  if (!versions.ok()) {
    ++counters_.inference_refused["no_model"];
    return versions.status();
  }
  struct Option {
    double cost;
    absl::Duration estimate;
    const Node* node;
  };
  std::optional<Option> best;
  std::map<std::string, int> rejected;
  absl::Duration fastest = absl::InfiniteDuration();
  for (const auto& [id, node] : nodes_) {
    if (node.state == NodeState::kLost) {
      ++rejected["lost"];
      continue;
    }
    if (node.state == NodeState::kDraining) {  // its worker is shutting down
      ++rejected["draining"];
      continue;
    }
    // A node being loaded with an acceptable version serves it by the time work arrives: the
    // session delivers the load first.
    const auto load = loading_.find(id);
    const bool loading_it = load != loading_.end() && load->second.model == *model &&
                            versions->Contains(load->second.version);
    if (!loading_it && !node.served.has_value()) {
      ++rejected["no model yet"];
      continue;
    }
    if (!loading_it && node.served->model != *model) {
      ++rejected["serves another model"];
      continue;
    }
    if (!loading_it && !versions->Contains(node.served->version)) {
      ++rejected[node.served->version < versions->min ? "version too old" : "version not serving"];
      continue;
    }
    if (placeholders_.contains(id)) {
      ++rejected["reconnecting"];
      continue;
    }
    if (node.info.kind == NodeKind::kVehicle) {
      const std::string not_serving = NotServingReason(node.signals, config_.vehicle);
      if (!not_serving.empty()) {
        ++rejected[not_serving];
        continue;
      }
    }
    const absl::Duration per_image = node.service_per_image > absl::ZeroDuration()
                                         ? node.service_per_image
                                         : config_.default_service_per_image;
    const bool training = !node.free();
    const absl::Duration estimate = 2 * NetworkTime(node) + node.inference_backlog +
                                    per_image * (node.routed_images + images) +
                                    (training ? config_.preemption_bound : absl::ZeroDuration());
    fastest = std::min(fastest, estimate);
    if (estimate > budget) {
      ++rejected["too slow"];
      continue;
    }
    // Pausing one rank of a job costs it about 1/world of its progress, weighed by priority.
    double cost = 0;
    if (training) {
      const Job& job = jobs_.at(node.job);
      cost = (1.0 + std::max(0, job.spec.priority)) / static_cast<double>(job.members.size());
    }
    const Option option{cost, estimate, &node};
    if (!best.has_value() || option.cost < best->cost ||
        (option.cost == best->cost && option.estimate < best->estimate)) {
      best = option;
    }
  }
  if (!best.has_value()) {
    if (std::optional<RouteDecision> cold = RouteToColdNode(*model, *versions, images, budget)) {
      return *cold;
    }
    ++counters_.inference_refused["deadline"];
    demand_.Record(clock_->Now());
    model_refusals_[*model].push_back(clock_->Now());
    return absl::ResourceExhaustedError(absl::StrCat(
        "no node can answer for model '", *model, "' within ", absl::FormatDuration(budget), " (",
        SummarizeRejections(rejected), "; fastest estimate ",
        fastest == absl::InfiniteDuration() ? "none" : absl::FormatDuration(fastest), ")"));
  }
  Node& chosen = nodes_.at(best->node->info.id);
  chosen.routed_images += images;
  ++counters_.inference_routed;
  if (!chosen.free()) ++counters_.inference_routed_to_training;
  if (!chosen.free()) demand_.Record(clock_->Now());  // it pauses a training rank
  ++counters_.inference_routed_by_model[*model];
  return RouteDecision{chosen.info.id, best->estimate, !chosen.free(), *model, *versions};
}

absl::Status SchedulerCore::PromoteModel(const std::string& model, int64_t version) {
  return JournalModel(model, models_.Promote(model, version, clock_->Now()));
}

absl::Status SchedulerCore::RollbackModel(const std::string& model) {
  return JournalModel(model, models_.Rollback(model, clock_->Now()));
}

absl::Status SchedulerCore::UnpinModel(const std::string& model) {
  return JournalModel(model, models_.Unpin(model, clock_->Now()));
}

absl::Status SchedulerCore::PublishModelVersion(const std::string& model, ModelVersionRecord record,
                                                std::shared_ptr<const std::string> weights,
                                                bool promote) {
  if (models_.Find(model) == nullptr) {
    // Served from checkpoints alone: no job publishes newer versions, so only the serving
    // one answers.
    models_.Declare(model, JobId(), PromotionPolicy::kNewest, /*max_staleness_steps=*/0);
  }
  const int64_t version = record.version;
  if (record.published == absl::Time()) record.published = clock_->Now();  // not given
  absl::Status published = models_.Publish(model, record, clock_->Now());
  if (!published.ok()) return published;
  models_.KeepWeights(model, version, std::move(weights));
  if (promote) published = models_.Promote(model, version, clock_->Now());
  return JournalModel(model, published);
}

void SchedulerCore::WeightsArrived(const NodeId& /*node*/, const std::string& model,
                                   int64_t version, std::shared_ptr<const std::string> weights) {
  if (weights == nullptr) return;  // the node serves another version by now: asked again later
  models_.KeepWeights(model, version, std::move(weights));
  KeepModelsServed();
  Flush();
}

absl::Duration SchedulerCore::NetworkTime(const Node& node) const {
  return node.info.kind == NodeKind::kVehicle ? config_.vehicle_network
                                              : config_.datacenter_network;
}

absl::Duration SchedulerCore::LoadTime(const Node& node, size_t bytes) {
  if (node.info.link_mbps <= 0) return absl::InfiniteDuration();  // unknown link: last
  return absl::Seconds(static_cast<double>(bytes) * 8 / (node.info.link_mbps * 1e6));
}

std::optional<RouteDecision> SchedulerCore::RouteToColdNode(const std::string& model,
                                                            const VersionRange& versions,
                                                            int images, absl::Duration budget) {
  const std::optional<int64_t> loadable = models_.LoadableVersion(model, versions);
  if (!loadable.has_value()) return std::nullopt;
  const std::shared_ptr<const std::string> weights = models_.Find(model)->weights.at(*loadable);
  // Counted only if an idle candidate holds another model: this runs for each request that
  // no warm node can answer in time.
  std::optional<std::map<std::string, int>> holders;
  Node* best = nullptr;
  absl::Duration best_estimate;
  for (auto& [id, node] : nodes_) {
    if (!node.free() || !FitToServe(node) || loading_.contains(id) ||
        ServesAcceptable(node, model, versions)) {
      continue;  // not idle, not fit, or loaded already (too slow as it is)
    }
    if (ModelHeld(node) != nullptr) {
      if (!holders.has_value()) holders = HoldersByModel();
      if (LastHolder(node, *holders)) continue;  // another model's only holder
    }
    const absl::Duration per_image = node.service_per_image > absl::ZeroDuration()
                                         ? node.service_per_image
                                         : config_.default_service_per_image;
    const absl::Duration estimate =
        2 * NetworkTime(node) + LoadTime(node, weights->size()) + per_image * images;
    if (estimate <= budget && (best == nullptr || estimate < best_estimate)) {
      best = &node;
      best_estimate = estimate;
    }
  }
  if (best == nullptr) return std::nullopt;
  outgoing_.push_back(Outgoing{best->info.id, ModelLoad{model, *loadable, weights, "cold_start"}});
  loading_[best->info.id] = ModelWork{model, *loadable, clock_->Now()};
  ++counters_.model_loads["cold_start"];
  best->routed_images += images;
  ++counters_.inference_routed;
  ++counters_.inference_routed_by_model[model];
  Flush();  // the weights go out before the caller sends the request on the same session
  return RouteDecision{best->info.id, best_estimate, false, model, versions};
}

bool SchedulerCore::FitToServe(const Node& node) const {
  if (node.state == NodeState::kLost || node.state == NodeState::kDraining || !node.connected ||
      placeholders_.contains(node.info.id)) {
    return false;
  }
  return node.info.kind != NodeKind::kVehicle ||
         NotServingReason(node.signals, config_.vehicle).empty();
}

const std::string* SchedulerCore::ModelHeld(const Node& node) const {
  if (!node.served.has_value() || !FitToServe(node)) return nullptr;
  // Acceptable() words an error for a model unknown or not serving; skip that per node.
  const ServedModel* served = models_.Find(node.served->model);
  if (served == nullptr || !served->serving.has_value()) return nullptr;
  const absl::StatusOr<VersionRange> range = models_.Acceptable(node.served->model);
  return range.ok() && range->Contains(node.served->version) ? &node.served->model : nullptr;
}

std::map<std::string, int> SchedulerCore::HoldersByModel() const {
  std::map<std::string, int> holders;
  for (const auto& [id, node] : nodes_) {
    if (const std::string* model = ModelHeld(node); model != nullptr) ++holders[*model];
  }
  for (const auto& [id, work] : loading_) ++holders[work.model];
  return holders;
}

bool SchedulerCore::LastHolder(const Node& node, const std::map<std::string, int>& holders) const {
  const std::string* model = ModelHeld(node);
  if (model == nullptr) return false;
  const auto it = holders.find(*model);
  return it == holders.end() || it->second <= 1;
}

void SchedulerCore::KeepModelsServed() {
  const absl::Time now = clock_->Now();
  // Work in flight ends when the node reports the version, leaves, or times out.
  for (auto it = loading_.begin(); it != loading_.end();) {
    const auto node = nodes_.find(it->first);
    const bool done =
        node == nodes_.end() || node->second.state == NodeState::kLost ||
        (node->second.served.has_value() && node->second.served->model == it->second.model &&
         node->second.served->version == it->second.version) ||
        now - it->second.sent > kModelWorkTimeout;
    it = done ? loading_.erase(it) : std::next(it);
  }
  // At most one request for a model's weights per reclaim_interval: under the newest policy
  // the serving version moves on every few steps, and weights a megabyte each must not flood
  // the sessions while demand lasts.
  for (auto it = weights_requested_.begin(); it != weights_requested_.end();) {
    it = now - it->second >= config_.demand.reclaim_interval ? weights_requested_.erase(it)
                                                             : std::next(it);
  }
  for (auto& [model, refusals] : model_refusals_) {
    while (!refusals.empty() && now - refusals.front() > config_.demand.window) {
      refusals.pop_front();
    }
  }
  std::map<std::string, int> holders_by_model = HoldersByModel();
  for (const ServedModel* model : models_.Models()) {
    const absl::StatusOr<VersionRange> range = models_.Acceptable(model->name);
    if (!range.ok()) continue;
    const int holders = holders_by_model[model->name];
    const auto refusals = model_refusals_.find(model->name);
    const bool in_demand = refusals != model_refusals_.end() &&
                           static_cast<int>(refusals->second.size()) >= config_.demand.reclaim_at;
    const int wanted = in_demand ? holders + 1 : 1;
    if (holders >= wanted) continue;
    const std::optional<int64_t> loadable = models_.LoadableVersion(model->name, *range);
    if (!loadable.has_value()) {
      // Ask a node that holds the serving version for its weights (it may be one that cannot
      // serve now: a vehicle that drove off but is still connected).
      const int64_t serving = *model->serving;
      if (weights_requested_.contains(model->name)) continue;
      for (const auto& [id, node] : nodes_) {
        if (node.state == NodeState::kLost || !node.connected || !node.served.has_value() ||
            node.served->model != model->name || node.served->version != serving) {
          continue;
        }
        outgoing_.push_back(Outgoing{id, WeightsRequest{model->name, serving}});
        weights_requested_[model->name] = now;
        break;
      }
      continue;
    }
    // The idle node the weights reach soonest (bytes over its link; unknown links last).
    const std::shared_ptr<const std::string>& weights = model->weights.at(*loadable);
    const Node* best = nullptr;
    absl::Duration best_load;
    for (const auto& [id, node] : nodes_) {
      if (!node.free() || !FitToServe(node) || loading_.contains(id)) continue;
      if (ServesAcceptable(node, model->name, *range)) continue;  // serves it already
      if (LastHolder(node, holders_by_model)) continue;
      const absl::Duration load = LoadTime(node, weights->size());
      if (best == nullptr || load < best_load) {
        best = &node;
        best_load = load;
      }
    }
    if (best == nullptr) continue;
    const std::string reason = holders == 0 ? "serving" : "demand";
    if (const std::string* dropped = ModelHeld(*best); dropped != nullptr) {
      --holders_by_model[*dropped];
    }
    ++holders_by_model[model->name];
    outgoing_.push_back(
        Outgoing{best->info.id, ModelLoad{model->name, *loadable, weights, reason}});
    loading_[best->info.id] = ModelWork{model->name, *loadable, now};
    ++counters_.model_loads[reason];
    // Another node takes only refusals that come after this one.
    if (reason == "demand") model_refusals_.erase(model->name);
  }
}

absl::Status SchedulerCore::JournalModel(const std::string& model, absl::Status changed) {
  // Before the caller hears of it, as for jobs: what a user was told is never newer than what
  // a restart recovers.
  if (changed.ok() && journal_ != nullptr) journal_->ModelChanged(models_.ChoiceOf(model));
  if (changed.ok()) {
    KeepModelsServed();  // a version nobody fit holds serves now: load it somewhere
    Flush();
  }
  return changed;
}

void SchedulerCore::InferenceDone(const NodeId& id, int images) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  it->second.routed_images = std::max(0, it->second.routed_images - images);
}

void SchedulerCore::Record(Job& job, std::string what) {
  // Every durable change comes with an event, so this is where jobs become dirty.
  MarkDirty(job);
  job.events.push_back(JobEvent{clock_->Now(), std::move(what)});
  while (job.events.size() > config_.events_per_job) job.events.pop_front();
}

absl::Status SchedulerCore::CheckInvariants() const {
  std::map<std::string, int> unavailable;
  std::vector<const Node*> available;
  for (const auto& [id, node] : nodes_) {
    const std::string reason = UnavailableReason(node, placeholders_.contains(id));
    if (reason.empty()) {
      available.push_back(&node);
    } else {
      ++unavailable[reason];
    }
    if (!node.free() && !jobs_.contains(node.job)) {
      return absl::InternalError(absl::StrCat("node ", id, " hosts unknown job ", node.job));
    }
  }
  if (available != available_.List()) {
    return absl::InternalError(absl::StrCat("index lists ", available_.size(),
                                            " available nodes, the nodes say ", available.size()));
  }
  if (unavailable != available_.unavailable()) {
    return absl::InternalError(absl::StrCat(
        "index counts unavailable nodes as (", SummarizeRejections(available_.unavailable()),
        "), the nodes say (", SummarizeRejections(unavailable), ")"));
  }
  for (const auto& [id, job] : jobs_) {
    for (const NodeId& member : job.members) {
      const auto node = nodes_.find(member);
      if (node == nodes_.end() || node->second.job != id) {
        return absl::InternalError(absl::StrCat("job ", id, " lists ", member,
                                                " as a member but the node does not host it"));
      }
    }
  }
  return absl::OkStatus();
}

const Job* SchedulerCore::FindJob(const JobId& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

const Node* SchedulerCore::FindNode(const NodeId& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<const Job*> SchedulerCore::Jobs() const {
  std::vector<const Job*> out;
  for (const auto& [id, job] : jobs_) out.push_back(&job);
  std::sort(out.begin(), out.end(),
            [](const Job* a, const Job* b) { return a->submit_order < b->submit_order; });
  return out;
}

std::vector<const Node*> SchedulerCore::Nodes() const {
  std::vector<const Node*> out;
  out.reserve(nodes_.size());
  for (const auto& [id, node] : nodes_) out.push_back(&node);
  return out;
}

}  // namespace cosched::scheduler
