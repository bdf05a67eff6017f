// File: scheduler/service/job_journal.h
// The scheduler core's durable memory on a StateStore: StoreJobJournal writes each job the
// core reports changed as one WAL record (a StateLogRecord holding the job's whole new state,
// so replay is "last record per job wins") and every `snapshot_every` records a
// SchedulerSnapshot of all jobs, which lets the store drop the log behind it. RecoverJobs
// reads a store back into what SchedulerCore::Restore takes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/scheduler_state.pb.h"
#include "scheduler/core/scheduler_core.h"
#include "scheduler/store/state_store.h"

namespace cosched::scheduler {

// What a store held, ready for SchedulerCore::Restore.
struct RecoveredJobs {
  std::vector<JournaledJob> jobs;   // submission order
  std::vector<ModelChoice> models;  // serving choices made by hand, by model name
  uint64_t next_job_number = 1;
  uint64_t last_sequence = 0;  // the newest record or snapshot read; 0 for an empty store
  uint64_t snapshot_sequence = 0;
  size_t records_replayed = 0;        // WAL records after the snapshot
  std::vector<std::string> warnings;  // what recovery repaired, e.g. a cut torn tail (logged)
};

// Runs store.Recover() (so call it once, before the journal appends), logs every warning and
// replays the snapshot and the records. DataLoss naming the sequence number for a snapshot or
// record that does not parse or holds an impossible job.
absl::StatusOr<RecoveredJobs> RecoverJobs(StateStore& store);

// The conversions between the core's Job and its record (exposed for tests). JobFromRecord
// names the job and the field it cannot use.
cosched::v1::JobRecord JobToRecord(const Job& job, const std::vector<NodeKind>& member_kinds);
absl::StatusOr<JournaledJob> JobFromRecord(const cosched::v1::JobRecord& record);
cosched::v1::ModelRecord ModelToRecord(const ModelChoice& choice);
ModelChoice ModelFromRecord(const cosched::v1::ModelRecord& record);

struct JobJournalOptions {
  int64_t snapshot_every = 1000;  // appends between snapshots
};

// Not thread-safe: the core calls it on its loop thread, and so must everyone else (main.cc
// writes the shutdown snapshot through CoreRunner::Call).
class StoreJobJournal final : public JobJournal {
 public:
  // `store` must have been recovered by RecoverJobs, whose result `recovered` is, and must
  // outlive the journal.
  StoreJobJournal(StateStore* store, const RecoveredJobs& recovered,
                  JobJournalOptions options = {});

  // Appends the job's record. A failed append must not stop the scheduler: it is logged as an
  // error and counted, and the job's state still goes into the next snapshot.
  void JobChanged(const Job& job, const std::vector<NodeKind>& member_kinds) override;
  // Appends the model's choice, the same way.
  void ModelChanged(const ModelChoice& choice) override;

  // Snapshots every job now, unless nothing changed since the last snapshot (clean shutdown).
  absl::Status WriteSnapshot();

  int64_t appends() const { return appends_; }
  int64_t failed_appends() const { return failed_appends_; }
  int64_t snapshots() const { return snapshots_; }
  int64_t failed_snapshots() const { return failed_snapshots_; }

 private:
  // Appends one record (`what` names it in errors) and snapshots when it is time.
  void Append(const cosched::v1::StateLogRecord& log, const std::string& what);

  StateStore* const store_;
  const JobJournalOptions options_;
  // The latest record of every job: what the next snapshot holds.
  std::map<JobId, cosched::v1::JobRecord> jobs_;
  std::map<std::string, cosched::v1::ModelRecord> models_;
  uint64_t next_job_number_;
  uint64_t last_sequence_;  // the newest record appended (or recovered)
  int64_t since_snapshot_;  // appends since the last snapshot (recovered records count)
  bool changed_since_snapshot_;
  int64_t appends_ = 0;
  int64_t failed_appends_ = 0;
  int64_t snapshots_ = 0;
  int64_t failed_snapshots_ = 0;
};

}  // namespace cosched::scheduler
