// File: scheduler/core/scheduler_core.h
// SchedulerCore: the decision engine. It keeps the node registry and the jobs, admits jobs
// as gangs (min_workers at once), grows them toward max_workers as nodes free up or vehicles
// become eligible, shrinks them when members leave, and bumps a job's generation on every
// member change, telling each member its new rank through the outbox.
//
// It runs on one EventLoop thread, reads time only from the injected Clock and does no I/O:
// the gRPC service (scheduler/service) and the fleet simulator (sim/) drive the same code.
// Every public call finishes by reconciling: placing what can be placed and sending one
// assignment per member of every job whose member set changed.
//
// Persistence: an optional JobJournal hears of every job whose durable fields changed, once
// per public call and before any worker is told (so what a worker runs is never newer than
// what a restart recovers). Restore() rebuilds the jobs after a restart.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "scheduler/core/available_nodes.h"
#include "scheduler/core/inference_demand.h"
#include "scheduler/core/model_registry.h"
#include "scheduler/core/node.h"
#include "scheduler/core/placer.h"
#include "scheduler/core/types.h"
#include "scheduler/core/vehicle_eligibility.h"

namespace cosched::scheduler {

struct CoreConfig {
  absl::Duration heartbeat_ttl = absl::Seconds(3);
  EligibilityPolicy vehicle;
  size_t events_per_job = 64;  // history kept for `coschedctl describe`
  // Inference routing estimates: one-way network time to each kind of node, what a training
  // node needs to hand its compute to inference, and the service time per image assumed
  // until a worker reports its own.
  absl::Duration datacenter_network = absl::Milliseconds(1);
  absl::Duration vehicle_network = absl::Milliseconds(15);
  absl::Duration preemption_bound = absl::Milliseconds(2);
  absl::Duration default_service_per_image = absl::Microseconds(300);
  // Progress from heartbeats (step, epoch, accuracy) is journaled at most this often per job:
  // it changes with every heartbeat, and a restart that loses a few seconds of it loses
  // nothing the workers do not report again.
  absl::Duration progress_journal_interval = absl::Seconds(5);
  DemandPolicy demand;  // when to take nodes back from training for inference
  // The model of requests that name none; empty: the only model there is, if there is one.
  std::string default_model;
};

// What a member must run: sent on every member change of its job.
struct Assignment {
  JobId job;
  int64_t generation = 0;
  int rank = 0;
  int world = 0;
  std::string store_prefix;  // rendezvous keys of this generation: job/<id>/gen/<g>/
  // previous_rank[r]: the rank new rank r had in the previous generation, -1 if it is new.
  // The lowest survivor becomes rank 0 and broadcasts the committed state.
  std::vector<int> previous_rank;
  bool restore_from_checkpoint = false;  // no member survived: start from the last checkpoint
  std::string job_yaml;
  std::string reason;  // why this generation exists ("admitted", "node n3 vanished", ...)
  // The member trains in the job's edge tier, as a replica of its own (rank 0 of a world of
  // 1). A job's assignment names the synchronous members' world; the edge members follow
  // them in Job::members.
  bool edge_tier = false;
};

struct Revocation {
  JobId job;
  int64_t generation = 0;
  std::string reason;
  // Non-zero: a preemption notice, the node is taken for inference and must stop training
  // within this time. Zero: leave at the next step boundary.
  absl::Duration budget = absl::ZeroDuration();
};

// Where the core's decisions go: the service turns them into worker-session messages; tests
// and the simulator record them.
// An idle node is to serve a version of a model it does not hold; the weights travel with the
// message (opaque to the core: a serialized cosched.v1.ModelWeights the service checked).
struct ModelLoad {
  std::string model;
  int64_t version = 0;
  std::shared_ptr<const std::string> weights;
  // "serving": no node fit to serve held it; "demand": requests refused; "cold_start": a
  // request is routed to the node as it loads.
  std::string reason;
};

// A node that serves a version is asked for its weights (SchedulerCore::WeightsArrived).
struct WeightsRequest {
  std::string model;
  int64_t version = 0;
};

class CoreOutbox {
 public:
  virtual ~CoreOutbox() = default;
  virtual void Assign(const NodeId& node, const Assignment& assignment) = 0;
  virtual void Revoke(const NodeId& node, const Revocation& revocation) = 0;
  // No member will use `job`'s generations before `generation` again (all of them when the
  // job ended): their rendezvous keys can go.
  virtual void GenerationsEnded(const JobId& /*job*/, int64_t /*generation*/) {}
  virtual void LoadModel(const NodeId& /*node*/, const ModelLoad& /*load*/) {}
  virtual void RequestWeights(const NodeId& /*node*/, const WeightsRequest& /*request*/) {}
};

// What a job's last placement found when it could not start or grow. Until a node becomes
// available (the AvailableNodes epoch moves) nothing can change that, and only the nodes that
// became available since can add to `feasible` (SchedulerCore::StillNoRoom).
struct NoRoom {
  bool waiting = false;  // the job is short of nodes now (pending, or below workers.max)
  uint64_t epoch = 0;    // the epoch it was found at; 0: never
  int feasible = 0;      // nodes that fitted then (an upper bound when not `exact`)
  bool exact = true;
  std::string refusals;  // why the available nodes its placement looked at did not fit
};

struct Job {
  JobId id;
  Assignment assignment;  // the current generation's (rank set per member on send)
  JobSpec spec;
  JobState state = JobState::kPending;
  uint64_t submit_order = 0;
  absl::Time submitted;
  int64_t generation = -1;      // -1 until first admitted
  std::vector<NodeId> members;  // in rank order
  // Members that have reported running this job (a heartbeat naming it and its current
  // generation, or a registration naming it).
  // One that registers without the job afterwards has restarted: a crash. One that never did
  // has not heard of its assignment (the scheduler restarted before it arrived): it is told
  // again, and nothing is charged.
  std::set<NodeId> confirmed;
  int failures = 0;  // departures that count against max_failures
  // The last generation a member reported failed (-1: none since training last progressed),
  // and how many generations in a row failed so.
  int64_t failed_generation = -1;
  int failed_in_a_row = 0;
  JobProgress progress;
  // Why it is not running (or cannot grow) when that is not about room ("scheduler
  // restarted"); SchedulerCore::WaitingReason words the whole reason.
  std::string waiting_note;
  NoRoom no_room;
  std::deque<JobEvent> events;  // newest last
};

// Where the core's durable state goes (scheduler/service/job_journal.h writes it to the
// StateStore). Called on the loop thread at the end of a public call, once for each job whose
// durable fields changed in it; `member_kinds[i]` is the kind of `job.members[i]`, which a
// restarted core needs to stand in for members until their workers reconnect.
class JobJournal {
 public:
  virtual ~JobJournal() = default;
  virtual void JobChanged(const Job& job, const std::vector<NodeKind>& member_kinds) = 0;
  // A model's serving choice was changed by hand (promote, rollback, unpin).
  virtual void ModelChanged(const ModelChoice& /*choice*/) {}
};

// A job as a journal hands it back for SchedulerCore::Restore.
struct JournaledJob {
  Job job;
  std::vector<NodeKind> member_kinds;  // parallel to job.members
};

// A worker's periodic report.
struct Heartbeat {
  JobId job;                            // the job it runs, if any
  VehicleSignals signals;               // vehicles only
  absl::Duration inference_backlog;     // queued inference work on the worker
  absl::Duration service_per_image;     // its measured service time; 0 if unknown
  std::optional<ServedVersion> served;  // the model version it answers inference with
  std::optional<JobProgress> progress;  // when it trains a job
  int64_t generation = -1;              // of the job it trains, with `progress`
  bool job_finished = false;            // the job reached its end on this member (rank 0 reports)
  std::string failure;  // non-empty: training failed on this node with this (its own) error
  // A generation that failed on this member without its fault (-1: none), and why.
  int64_t failed_generation = -1;
  std::string generation_failure;
  // Non-empty: the worker is shutting down, for this reason (NodeState::kDraining).
  std::string draining;
};

// Where an inference request goes, and why.
struct RouteDecision {
  NodeId node;
  absl::Duration estimate;  // arrival to answer, as estimated
  bool preempts_training = false;
  std::string model;      // the one the request named, or the default
  VersionRange versions;  // of `model`, the ones the node may answer with
};

struct CoreCounters {
  std::map<std::string, int64_t> membership_changes;  // by reason
  int64_t generations = 0;                            // begun, over all jobs
  int64_t placements = 0;                             // attempts to place a job's ranks
  int64_t placements_without_room = 0;                // ... that placed nothing
  int64_t heartbeats = 0;
  int64_t inference_routed = 0;
  int64_t inference_routed_to_training = 0;  // ... to a node that pauses a training rank
  std::map<std::string, int64_t> inference_routed_by_model;
  std::map<std::string, int64_t> inference_refused;  // by reason
  std::map<std::string, int64_t> preemptions;        // nodes taken back from training, by reason
  int64_t given_back = 0;                            // nodes returned to training
  std::map<std::string, int64_t> model_loads;        // versions sent to idle nodes, by reason
};

class SchedulerCore {
 public:
  SchedulerCore(const Clock* clock, CoreConfig config, Placer placer, CoreOutbox* outbox);

  // Null (the default) keeps nothing. `journal` must outlive the core.
  void set_journal(JobJournal* journal) { journal_ = journal; }

  // Rebuilds the jobs a journal recovered, before any node registers (FailedPrecondition
  // otherwise; InvalidArgument naming the job for inconsistent records). New job ids continue
  // at `next_job_number` or past the largest restored one. The members of running jobs keep
  // their ranks: each gets a placeholder node (ready, heartbeat now) until its worker
  // registers again. One still running that generation keeps its rank and is re-sent its
  // assignment; one that runs nothing departs as a restarted worker; one that never returns
  // is lost after the heartbeat TTL. Placeholders are never placed or routed to. The journal
  // does not hear of restored jobs until they change.
  // `models`: the serving choices made by hand that the journal kept; they apply after the
  // jobs have declared their models.
  absl::Status Restore(std::vector<JournaledJob> jobs, uint64_t next_job_number,
                       const std::vector<ModelChoice>& models = {});
  uint64_t next_job_number() const { return next_job_; }

  // A worker connects (or reconnects). A node that the core believes is a member of a job
  // but that registers without running that generation restarted: that is a crash.
  absl::Status RegisterNode(const NodeInfo& info, const std::optional<JobId>& running_job = {},
                            int64_t running_generation = -1);
  absl::Status ReceiveHeartbeat(const NodeId& node, const Heartbeat& heartbeat);
  // The session to a worker ended. The node stays until its TTL runs out (it may reconnect),
  // unless its job is recovering from a failed generation (then it has died) or its worker
  // was draining (then it has shut down): either way it is lost at once.
  void NodeDisconnected(const NodeId& node);
  absl::StatusOr<JobId> SubmitJob(const JobSpec& spec);
  absl::Status CancelJob(const JobId& job);
  // Periodic work: expires nodes that missed the TTL, then reconciles.
  void Tick();

  // Picks the node that answers `images` images for `model` (empty: the default model) within
  // `budget` at least cost to training, among the nodes fit to serve that hold an acceptable
  // version of it (ModelRegistry::Acceptable): an idle node first, then the training rank
  // whose pause costs its job least (the largest job, the lowest priority).
  // RESOURCE_EXHAUSTED with the reason when no node can; INVALID_ARGUMENT, NOT_FOUND or
  // UNAVAILABLE (from the registry) when the model cannot be served at all.
  absl::StatusOr<RouteDecision> RouteInference(const std::string& model, int images,
                                               absl::Duration budget);
  // A routed request finished (answered or failed) on `node`.
  void InferenceDone(const NodeId& node, int images);

  // The served models (coschedctl get models), and promotion by hand (ModelRegistry's).
  const ModelRegistry& models() const { return models_; }
  absl::Status PromoteModel(const std::string& model, int64_t version);
  absl::Status RollbackModel(const std::string& model);
  absl::Status UnpinModel(const std::string& model);
  // A version from a checkpoint file, its weights checked by the service (a serialized
  // ModelWeights): the model is declared if no job trains it, the version recorded and its
  // weights kept, and it serves at once if `promote` (pinned) or if the policy prefers it.
  // `record.published` left at the epoch means now. ALREADY_EXISTS when the model has the
  // version.
  absl::Status PublishModelVersion(const std::string& model, ModelVersionRecord record,
                                   std::shared_ptr<const std::string> weights, bool promote);
  // The weights of `model` at `version` that `node` sent when asked (a serialized
  // ModelWeights); kept for loading onto other nodes. `weights` null: it could not send them.
  void WeightsArrived(const NodeId& node, const std::string& model, int64_t version,
                      std::shared_ptr<const std::string> weights);

  // The edge tier's aggregator rejected a contribution `node` sent for `job` (NaN, a norm
  // far outside the others'): it counts against the node's reliability like a departure,
  // so placement prefers others, and the job's history says why.
  void ContributionRejected(const NodeId& node, const JobId& job, const std::string& why);

  const Job* FindJob(const JobId& id) const;
  // Why `job` is pending or short of workers, for Explain and `coschedctl describe`: "needs 4
  // nodes, 1 fit (3 busy, 2 job wants vehicles)": the nodes unavailable now and the available
  // ones its last placement refused. Empty when it is not waiting. Worded when asked, not at
  // every decision: a thousand waiting jobs would otherwise be reworded at each one.
  std::string WaitingReason(const Job& job) const;
  const Node* FindNode(const NodeId& id) const;
  std::vector<const Job*> Jobs() const;    // submission order
  std::vector<const Node*> Nodes() const;  // id order
  const CoreCounters& counters() const { return counters_; }
  // Nodes a placement would consider now (id order).
  size_t available_nodes() const { return available_.size(); }
  // Checks that the index of available nodes agrees with the nodes themselves (tests and the
  // simulator call it after their steps; it walks every node).
  absl::Status CheckInvariants() const;

 private:
  void Reconcile();
  // Hands the journal the jobs that changed, then sends the queued worker messages.
  void Flush();
  void MarkDirty(const Job& job) { dirty_.insert(job.id); }
  // `node`, a member of `job`, has reported running it.
  void Confirm(Job& job, const NodeId& node);
  void Assign(const NodeId& node, Assignment assignment);
  void Revoke(const NodeId& node, Revocation revocation);
  // Places pending jobs in `order` (queue order) where they fit.
  void AdmitPending(const std::vector<Job*>& order);
  void Grow(Job& job);
  // Removes `node` from its job; the job is reshaped at the end of the reconcile.
  void Depart(Node& node, DepartureReason reason, const std::string& detail);
  void FailJob(Job& job, const std::string& reason);
  void FinishJob(Job& job, JobState state, const std::string& reason);
  void PublishGeneration(Job& job, const std::vector<NodeId>& previous_members);
  // A member reported that `job`'s generation failed around it (a peer died, left or never
  // came): members whose sessions closed depart as crashed; otherwise the same members form
  // a new generation.
  void GenerationFailed(Job& job, const Node& reporter, const std::string& why);
  void Record(Job& job, std::string what);
  // Tells the registry that `job` trains its spec's model.
  void DeclareModel(const Job& job);
  // Every model has a node fit to serve an acceptable version of it, one more while its
  // requests are refused for time: an idle node is loaded with cached weights (the one whose
  // link takes them soonest), or a node that holds the version is asked for them first.
  void KeepModelsServed();
  // When no node that holds the model can answer in time: an idle node fit to serve that can
  // be sent cached weights and answer within `budget` all the same (its link's time for the
  // bytes is part of the estimate, as Clockwork counts a cold start). The load goes out at
  // once, ahead of the request on the node's session.
  std::optional<RouteDecision> RouteToColdNode(const std::string& model,
                                               const VersionRange& versions, int images,
                                               absl::Duration budget);
  // One way to `node` and back is twice this.
  absl::Duration NetworkTime(const Node& node) const;
  // How long `bytes` take over `node`'s link (infinite when it reported none).
  static absl::Duration LoadTime(const Node& node, size_t bytes);
  // Whether `node` may answer inference now (connected, not lost nor standing in for a worker,
  // a vehicle parked and cool).
  bool FitToServe(const Node& node) const;
  // Per model: the nodes fit to serve that hold an acceptable version, and loads in flight.
  std::map<std::string, int> HoldersByModel() const;
  // The model `node` holds an acceptable version of while fit to serve, or null.
  const std::string* ModelHeld(const Node& node) const;
  // Whether loading another model onto `node` would leave the model it holds with no holder:
  // two models and one idle node must not take the node from each other in turn.
  bool LastHolder(const Node& node, const std::map<std::string, int>& holders) const;
  // Hands the journal `model`'s choice if `changed` is OK; returns `changed`.
  absl::Status JournalModel(const std::string& model, absl::Status changed);
  // The model a request is for: the one it names, or the default.
  absl::StatusOr<std::string> ResolveModel(const std::string& requested) const;
  // Whether `job` still cannot get `needed` nodes: it found fewer at an earlier epoch and too
  // few of the nodes that became available since pass its filters. Cheap: it looks only at
  // those arrivals, where a placement would look at every available node.
  bool StillNoRoom(Job& job, int needed);
  // Places up to `count` ranks of `job` on available nodes, looking where the last placement
  // stopped (so the nodes are considered in turn).
  Placement Place(const Job& job, int count);
  // `node`'s worker died (not merely silent): it is lost at once, not after the heartbeat TTL,
  // departs its job as crashed, and is placed again only when it registers again.
  void DepartDead(Node& node, const std::string& detail);
  // The node's worker said it is shutting down: no new work; its job re-forms without it.
  void Drain(Node& node, const std::string& why);
  // Records a sign of life from `node` at `now` (keeping by_last_heartbeat_ in order).
  void NoteHeartbeat(Node& node, absl::Time now);
  // Refiles `node` in the index of available nodes after a change to it.
  void Refile(const Node& node, bool resources_changed = false);
  // Records that `placement` found too few nodes for `job`.
  void NoteNoRoom(Job& job, const Placement& placement);
  PlacementRequest RequestFor(const Job& job) const;
  void ApplyEligibility(Node& node);
  // Cluster preemption: takes one node back from training when inference demand is high,
  // returns reserved nodes when it has fallen.
  void BalanceInference();
  void SendAssignment(const Job& job, const NodeId& node);
  // Whether `node` trains `job` in its edge tier: the job has one and the node's link is
  // slower than its synchronous tier needs.
  bool InEdgeTier(const Job& job, const NodeId& node) const;

  const Clock* const clock_;
  const CoreConfig config_;
  const Placer placer_;
  CoreOutbox* const outbox_;
  std::map<NodeId, Node> nodes_;  // never erased, so Node pointers stay valid
  AvailableNodes available_;
  // The nodes not yet lost, the longest silent first: a tick expires from the front instead
  // of looking at every node.
  struct SilentLongest {
    bool operator()(const std::pair<absl::Time, Node*>& a,
                    const std::pair<absl::Time, Node*>& b) const;
  };
  std::set<std::pair<absl::Time, Node*>, SilentLongest> by_last_heartbeat_;
  std::set<NodeId> reserved_;  // nodes taken back for inference, until given back
  std::map<JobId, Job> jobs_;  // never erased, so Job pointers stay valid
  // The jobs that have not ended, in queue order: priority first, then submission.
  struct QueueBefore {
    bool operator()(const Job* a, const Job* b) const;
  };
  std::set<Job*, QueueBefore> queue_;
  // Placement passes run only when a node became available or a job gained room (submitted,
  // restored, lost a member, back to pending): otherwise every job would find no room again.
  bool placement_pass_due_ = false;
  size_t next_scan_start_ = 0;
  uint64_t last_pass_epoch_ = 0;
  uint64_t next_job_ = 1;
  // Jobs whose member set changed since the last reconcile, with the members they had
  // before the change (to map old ranks to new) and the reasons.
  struct Reshape {
    std::vector<NodeId> previous_members;
    std::vector<std::string> reasons;
    bool reform = false;  // a new generation even if the members stay the same
  };
  // Jobs whose generations before the given one ended in this call (rendezvous keys to drop).
  std::vector<std::pair<JobId, int64_t>> ended_generations_;
  std::map<JobId, Reshape> reshaped_;
  CoreCounters counters_;
  InferenceDemand demand_;
  ModelRegistry models_;

  JobJournal* journal_ = nullptr;
  std::set<JobId> dirty_;           // durable fields changed in this call
  std::set<JobId> progress_dirty_;  // only progress changed, not journaled yet
  std::map<JobId, absl::Time> journaled_at_;
  // Members of restored jobs whose workers have not registered since the restart: their
  // NodeInfo is a stand-in (id and kind only).
  std::set<NodeId> placeholders_;
  // Worker messages of this call, sent after the journal heard of the changes behind them.
  struct Outgoing {
    NodeId node;
    std::variant<Assignment, Revocation, ModelLoad, WeightsRequest> message;
  };
  std::vector<Outgoing> outgoing_;
  // Loads and weight requests in flight, so each is sent once (until the node reports the
  // version, or kModelWorkTimeout passes): node -> (model, version, when sent).
  struct ModelWork {
    std::string model;
    int64_t version = 0;
    absl::Time sent;
  };
  std::map<NodeId, ModelWork> loading_;
  std::map<std::string, absl::Time> weights_requested_;  // model -> when its weights were asked
  // When requests for each model were refused because no node was fast enough (recent).
  std::map<std::string, std::deque<absl::Time>> model_refusals_;
};

}  // namespace cosched::scheduler
