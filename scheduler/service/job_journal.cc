// File: scheduler/service/job_journal.cc
#include "scheduler/service/job_journal.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace cosched::scheduler {
namespace {

namespace v1 = ::cosched::v1;

v1::StoredJobState ToStored(JobState state) {
  switch (state) {
    case JobState::kPending:
      return v1::STORED_JOB_STATE_PENDING;
    case JobState::kRunning:
      return v1::STORED_JOB_STATE_RUNNING;
    case JobState::kSucceeded:
      return v1::STORED_JOB_STATE_SUCCEEDED;
    case JobState::kFailed:
      return v1::STORED_JOB_STATE_FAILED;
    case JobState::kCancelled:
      return v1::STORED_JOB_STATE_CANCELLED;
  }
  return v1::STORED_JOB_STATE_UNSPECIFIED;
}

absl::StatusOr<JobState> FromStored(int state) {
  switch (state) {
    case v1::STORED_JOB_STATE_PENDING:
      return JobState::kPending;
    case v1::STORED_JOB_STATE_RUNNING:
      return JobState::kRunning;
    case v1::STORED_JOB_STATE_SUCCEEDED:
      return JobState::kSucceeded;
    case v1::STORED_JOB_STATE_FAILED:
      return JobState::kFailed;
    case v1::STORED_JOB_STATE_CANCELLED:
      return JobState::kCancelled;
    default:
      return absl::InvalidArgumentError(absl::StrCat("state ", state, " is not a job state"));
  }
}

v1::StoredNodeKind ToStored(NodeKind kind) {
  return kind == NodeKind::kVehicle ? v1::STORED_NODE_KIND_VEHICLE
                                    : v1::STORED_NODE_KIND_DATACENTER;
}

absl::StatusOr<NodeKind> NodeKindFromStored(int kind) {
  switch (kind) {
    case v1::STORED_NODE_KIND_DATACENTER:
      return NodeKind::kDatacenter;
    case v1::STORED_NODE_KIND_VEHICLE:
      return NodeKind::kVehicle;
    default:
      return absl::InvalidArgumentError(absl::StrCat("kind ", kind, " is not a node kind"));
  }
}

v1::StoredKindPreference ToStored(KindPreference kind) {
  switch (kind) {
    case KindPreference::kAny:
      return v1::STORED_KIND_PREFERENCE_ANY;
    case KindPreference::kDatacenter:
      return v1::STORED_KIND_PREFERENCE_DATACENTER;
    case KindPreference::kVehicle:
      return v1::STORED_KIND_PREFERENCE_VEHICLE;
  }
  return v1::STORED_KIND_PREFERENCE_UNSPECIFIED;
}

absl::StatusOr<KindPreference> KindPreferenceFromStored(int kind) {
  switch (kind) {
    case v1::STORED_KIND_PREFERENCE_ANY:
      return KindPreference::kAny;
    case v1::STORED_KIND_PREFERENCE_DATACENTER:
      return KindPreference::kDatacenter;
    case v1::STORED_KIND_PREFERENCE_VEHICLE:
      return KindPreference::kVehicle;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("spec.kind ", kind, " is not a kind preference"));
  }
}

// Where a job's latest record came from, for error messages.
std::string SourceName(uint64_t sequence, bool from_snapshot) {
  return from_snapshot ? absl::StrCat("the snapshot at sequence ", sequence)
                       : absl::StrCat("record ", sequence);
}

}  // namespace

v1::JobRecord JobToRecord(const Job& job, const std::vector<NodeKind>& member_kinds) {
  v1::JobRecord record;
  record.set_job_id(job.id);
  record.set_submit_order(job.submit_order);
  record.set_submitted_unix_micros(absl::ToUnixMicros(job.submitted));
  v1::StoredJobSpec& spec = *record.mutable_spec();
  spec.set_name(job.spec.name);
  spec.set_priority(job.spec.priority);
  spec.set_min_workers(job.spec.min_workers);
  spec.set_max_workers(job.spec.max_workers);
  spec.set_kind(ToStored(job.spec.kind));
  spec.set_cpus_per_worker(job.spec.cpus_per_worker);
  spec.set_memory_per_worker(job.spec.memory_per_worker);
  spec.set_min_link_mbps(job.spec.min_link_mbps);
  spec.set_max_failures(job.spec.max_failures);
  spec.set_job_yaml(job.spec.job_yaml);
  spec.set_owner(job.spec.owner);
  spec.set_model(job.spec.serving.model);
  spec.set_promote(job.spec.serving.promote);
  spec.set_max_staleness_steps(job.spec.serving.max_staleness_steps);
  spec.set_edge(job.spec.edge.enabled);
  spec.set_edge_sync_min_link_mbps(job.spec.edge.sync_min_link_mbps);
  record.set_state(ToStored(job.state));
  record.set_generation(job.generation);
  for (size_t i = 0; i < job.members.size(); ++i) {
    v1::StoredMember& member = *record.add_members();
    member.set_node_id(job.members[i]);
    member.set_kind(ToStored(i < member_kinds.size() ? member_kinds[i] : NodeKind::kDatacenter));
    member.set_confirmed(job.confirmed.contains(job.members[i]));
  }
  record.set_failures(job.failures);
  v1::StoredProgress& progress = *record.mutable_progress();
  progress.set_step(job.progress.step);
  progress.set_epoch(job.progress.epoch);
  progress.set_test_accuracy(job.progress.test_accuracy);
  progress.set_checkpoint_dir(job.progress.checkpoint_dir);
  if (!job.assignment.job.empty()) {
    v1::StoredAssignment& assignment = *record.mutable_assignment();
    assignment.set_generation(job.assignment.generation);
    assignment.set_world(job.assignment.world);
    assignment.set_store_prefix(job.assignment.store_prefix);
    for (int rank : job.assignment.previous_rank) assignment.add_previous_rank(rank);
    assignment.set_restore_from_checkpoint(job.assignment.restore_from_checkpoint);
    assignment.set_reason(job.assignment.reason);
  }
  for (const JobEvent& event : job.events) {
    v1::StoredEvent& out = *record.add_events();
    out.set_unix_micros(absl::ToUnixMicros(event.time));
    out.set_what(event.what);
  }
  return record;
}

absl::StatusOr<JournaledJob> JobFromRecord(const v1::JobRecord& record) {
  if (record.job_id().empty()) return absl::InvalidArgumentError("a job record has no job_id");
  const auto bad = [&](const absl::Status& status) {
    return absl::InvalidArgumentError(
        absl::StrCat("job ", record.job_id(), ": ", status.message()));
  };
  JournaledJob out;
  Job& job = out.job;
  job.id = record.job_id();
  job.submit_order = record.submit_order();
  job.submitted = absl::FromUnixMicros(record.submitted_unix_micros());
  const v1::StoredJobSpec& spec = record.spec();
  job.spec.name = spec.name();
  job.spec.priority = spec.priority();
  job.spec.min_workers = spec.min_workers();
  job.spec.max_workers = spec.max_workers();
  absl::StatusOr<KindPreference> kind = KindPreferenceFromStored(spec.kind());
  if (!kind.ok()) return bad(kind.status());
  job.spec.kind = *kind;
  job.spec.cpus_per_worker = spec.cpus_per_worker();
  job.spec.memory_per_worker = spec.memory_per_worker();
  job.spec.min_link_mbps = spec.min_link_mbps();
  job.spec.max_failures = spec.max_failures();
  job.spec.job_yaml = spec.job_yaml();
  job.spec.owner = spec.owner();
  job.spec.serving.model = spec.model();
  if (!spec.promote().empty()) job.spec.serving.promote = spec.promote();
  job.spec.serving.max_staleness_steps = spec.max_staleness_steps();
  job.spec.edge.enabled = spec.edge();
  job.spec.edge.sync_min_link_mbps = spec.edge_sync_min_link_mbps();
  absl::StatusOr<JobState> state = FromStored(record.state());
  if (!state.ok()) return bad(state.status());
  job.state = *state;
  job.generation = record.generation();
  for (const v1::StoredMember& member : record.members()) {
    if (member.node_id().empty()) return bad(absl::InvalidArgumentError("a member has no node_id"));
    absl::StatusOr<NodeKind> member_kind = NodeKindFromStored(member.kind());
    if (!member_kind.ok()) {
      return bad(absl::InvalidArgumentError(
          absl::StrCat("member ", member.node_id(), ": ", member_kind.status().message())));
    }
    job.members.push_back(member.node_id());
    if (member.confirmed()) job.confirmed.insert(member.node_id());
    out.member_kinds.push_back(*member_kind);
  }
  job.failures = record.failures();
  job.progress = JobProgress{record.progress().step(), record.progress().epoch(),
                             record.progress().test_accuracy(), record.progress().checkpoint_dir()};
  if (record.has_assignment()) {
    const v1::StoredAssignment& stored = record.assignment();
    Assignment& assignment = job.assignment;
    assignment.job = job.id;
    assignment.generation = stored.generation();
    assignment.world = stored.world();
    assignment.store_prefix = stored.store_prefix();
    assignment.previous_rank.assign(stored.previous_rank().begin(), stored.previous_rank().end());
    assignment.restore_from_checkpoint = stored.restore_from_checkpoint();
    assignment.job_yaml = job.spec.job_yaml;
    assignment.reason = stored.reason();
  } else if (job.state == JobState::kRunning) {
    return bad(absl::InvalidArgumentError("running without an assignment"));
  }
  for (const v1::StoredEvent& event : record.events()) {
    job.events.push_back(JobEvent{absl::FromUnixMicros(event.unix_micros()), event.what()});
  }
  return out;
}

cosched::v1::ModelRecord ModelToRecord(const ModelChoice& choice) {
  v1::ModelRecord record;
  record.set_model(choice.model);
  record.set_pinned(choice.pinned);
  if (choice.serving.has_value()) {
    v1::StoredModelVersion& serving = *record.mutable_serving();
    serving.set_version(choice.serving->version);
    serving.set_job_id(choice.serving->job);
    serving.set_published_unix_micros(absl::ToUnixMicros(choice.serving->published));
    serving.set_test_accuracy(choice.serving->test_accuracy);
    serving.set_checkpoint(choice.serving->checkpoint);
  }
  for (const ServedModel::Served& served : choice.previous) {
    v1::StoredServed& out = *record.add_previous();
    out.set_version(served.version);
    out.set_pinned(served.pinned);
  }
  return record;
}

ModelChoice ModelFromRecord(const cosched::v1::ModelRecord& record) {
  ModelChoice choice;
  choice.model = record.model();
  choice.pinned = record.pinned();
  if (record.has_serving()) {
    const v1::StoredModelVersion& serving = record.serving();
    choice.serving = ModelVersionRecord{serving.version(), serving.job_id(),
                                        absl::FromUnixMicros(serving.published_unix_micros()),
                                        serving.test_accuracy(), serving.checkpoint()};
  }
  for (const v1::StoredServed& served : record.previous()) {
    choice.previous.push_back({served.version(), served.pinned()});
  }
  return choice;
}

absl::StatusOr<RecoveredJobs> RecoverJobs(StateStore& store) {
  ASSIGN_OR_RETURN(StateStore::Recovered recovered, store.Recover());
  RecoveredJobs out;
  for (const std::string& warning : recovered.warnings) {
    spdlog::warn("state store: {}", warning);
  }
  out.warnings = std::move(recovered.warnings);
  out.snapshot_sequence = recovered.snapshot_sequence;
  out.last_sequence =
      recovered.records.empty() ? recovered.snapshot_sequence : recovered.records.back().first;
  out.records_replayed = recovered.records.size();

  struct Latest {
    v1::JobRecord record;
    uint64_t sequence = 0;
    bool from_snapshot = false;
  };
  std::map<JobId, Latest> latest;
  std::map<std::string, v1::ModelRecord> models;  // the latest record of each model
  if (recovered.snapshot_sequence != 0) {
    v1::SchedulerSnapshot snapshot;
    if (!snapshot.ParseFromString(recovered.snapshot)) {
      return absl::DataLossError(
          absl::StrCat("state store: the snapshot at sequence ", recovered.snapshot_sequence, " (",
                       recovered.snapshot.size(), " bytes) does not parse as a SchedulerSnapshot"));
    }
    out.next_job_number = snapshot.next_job_number();
    for (v1::JobRecord& record : *snapshot.mutable_jobs()) {
      const JobId id = record.job_id();
      if (!latest.emplace(id, Latest{std::move(record), recovered.snapshot_sequence, true})
               .second) {
        return absl::DataLossError(absl::StrCat("state store: the snapshot at sequence ",
                                                recovered.snapshot_sequence, " holds job '", id,
                                                "' twice"));
      }
    }
    for (v1::ModelRecord& record : *snapshot.mutable_models()) {
      models[record.model()] = std::move(record);
    }
  }
  for (auto& [sequence, bytes] : recovered.records) {
    v1::StateLogRecord log;
    if (!log.ParseFromString(bytes)) {
      return absl::DataLossError(absl::StrCat("state store: record ", sequence, " (", bytes.size(),
                                              " bytes) does not parse as a StateLogRecord"));
    }
    switch (log.kind_case()) {
      case v1::StateLogRecord::kJob: {
        const JobId id = log.job().job_id();
        latest[id] = Latest{std::move(*log.mutable_job()), sequence, false};
        break;
      }
      case v1::StateLogRecord::kModel: {
        if (log.model().model().empty()) {
          return absl::DataLossError(
              absl::StrCat("state store: record ", sequence, " holds a model without a name"));
        }
        models[log.model().model()] = std::move(*log.mutable_model());
        break;
      }
      default:
        return absl::DataLossError(absl::StrCat(
            "state store: record ", sequence,
            " holds no kind of record this scheduler knows (written by a newer version?)"));
    }
  }

  for (auto& [id, entry] : latest) {
    absl::StatusOr<JournaledJob> job = JobFromRecord(entry.record);
    if (!job.ok()) {
      return absl::DataLossError(
          absl::StrCat("state store: ", SourceName(entry.sequence, entry.from_snapshot), ": ",
                       job.status().message()));
    }
    out.next_job_number = std::max(out.next_job_number, job->job.submit_order + 1);
    out.jobs.push_back(*std::move(job));
  }
  std::sort(out.jobs.begin(), out.jobs.end(), [](const JournaledJob& a, const JournaledJob& b) {
    return a.job.submit_order < b.job.submit_order;
  });
  for (const auto& [name, record] : models) out.models.push_back(ModelFromRecord(record));
  return out;
}

StoreJobJournal::StoreJobJournal(StateStore* store, const RecoveredJobs& recovered,
                                 JobJournalOptions options)
    : store_(store),
      options_(options),
      next_job_number_(recovered.next_job_number),
      last_sequence_(recovered.last_sequence),
      since_snapshot_(static_cast<int64_t>(recovered.records_replayed)),
      changed_since_snapshot_(recovered.records_replayed > 0) {
  for (const JournaledJob& job : recovered.jobs) {
    jobs_[job.job.id] = JobToRecord(job.job, job.member_kinds);
  }
  for (const ModelChoice& model : recovered.models) models_[model.model] = ModelToRecord(model);
}

void StoreJobJournal::JobChanged(const Job& job, const std::vector<NodeKind>& member_kinds) {
  v1::StateLogRecord log;
  *log.mutable_job() = JobToRecord(job, member_kinds);
  jobs_[job.id] = log.job();
  next_job_number_ = std::max(next_job_number_, job.submit_order + 1);
  Append(log, absl::StrCat("job ", job.id));
}

void StoreJobJournal::ModelChanged(const ModelChoice& choice) {
  v1::StateLogRecord log;
  *log.mutable_model() = ModelToRecord(choice);
  models_[choice.model] = log.model();
  Append(log, absl::StrCat("model ", choice.model));
}

void StoreJobJournal::Append(const v1::StateLogRecord& log, const std::string& what) {
  std::string bytes;
  absl::StatusOr<uint64_t> sequence =
      log.SerializeToString(&bytes)
          ? store_->Append(bytes)
          : absl::StatusOr<uint64_t>(absl::InternalError("the record does not serialize"));
  changed_since_snapshot_ = true;
  if (!sequence.ok()) {
    ++failed_appends_;
    spdlog::error(
        "state store: could not record {} ({} failed appends so far): {}; its state is lost "
        "if the scheduler stops before the next snapshot",
        what, failed_appends_, sequence.status().ToString());
    return;
  }
  ++appends_;
  last_sequence_ = *sequence;
  if (++since_snapshot_ >= options_.snapshot_every) {
    if (absl::Status status = WriteSnapshot(); !status.ok()) {
      spdlog::error("state store: snapshot failed ({} so far): {}", failed_snapshots_,
                    status.ToString());
    }
  }
}

absl::Status StoreJobJournal::WriteSnapshot() {
  if (!changed_since_snapshot_) return absl::OkStatus();
  if (last_sequence_ == 0) {
    return absl::FailedPreconditionError(
        "state store: no record was ever stored, so there is nothing a snapshot could cover");
  }
  v1::SchedulerSnapshot snapshot;
  std::vector<const v1::JobRecord*> ordered;
  ordered.reserve(jobs_.size());
  for (const auto& [id, record] : jobs_) ordered.push_back(&record);
  std::sort(ordered.begin(), ordered.end(), [](const v1::JobRecord* a, const v1::JobRecord* b) {
    return a->submit_order() < b->submit_order();
  });
  for (const v1::JobRecord* record : ordered) *snapshot.add_jobs() = *record;
  for (const auto& [name, record] : models_) *snapshot.add_models() = record;
  snapshot.set_next_job_number(next_job_number_);
  std::string bytes;
  absl::Status status = snapshot.SerializeToString(&bytes)
                            ? store_->WriteSnapshot(bytes, last_sequence_)
                            : absl::InternalError("the snapshot does not serialize");
  since_snapshot_ = 0;  // a failing store is retried after another round, not on every append
  if (!status.ok()) {
    ++failed_snapshots_;
    return status;
  }
  ++snapshots_;
  changed_since_snapshot_ = false;
  return absl::OkStatus();
}

}  // namespace cosched::scheduler
