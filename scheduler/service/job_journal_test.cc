// File: scheduler/service/job_journal_test.cc
// The journal end to end: a core writes through StoreJobJournal into a store, the scheduler
// "restarts" (a new core and a new store over the same directory or Disk) and the jobs come
// back; plus a torn log tail, records that do not parse and a store that refuses appends.
#include "scheduler/service/job_journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "scheduler/store/file_state_store.h"
#include "scheduler/store/in_memory_state_store.h"
#include "scheduler/store/store_directory.h"
#include "scheduler/store/store_test_util.h"

namespace cosched::scheduler {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class RecordingOutbox : public CoreOutbox {
 public:
  void Assign(const NodeId& node, const Assignment& assignment) override {
    assignments[node] = assignment;
  }
  void Revoke(const NodeId& node, const Revocation& revocation) override {
    revocations[node] = revocation;
  }
  std::map<NodeId, Assignment> assignments;
  std::map<NodeId, Revocation> revocations;
};

NodeInfo Info(const std::string& id, NodeKind kind = NodeKind::kDatacenter) {
  NodeInfo info;
  info.id = id;
  info.kind = kind;
  info.cpus = 2;
  info.link_mbps = 1000;
  return info;
}

JobSpec Spec(int min, int max) {
  JobSpec spec;
  spec.name = "fashion";
  spec.min_workers = min;
  spec.max_workers = max;
  spec.priority = 3;
  spec.kind = KindPreference::kAny;
  spec.job_yaml = "name: fashion\nworkers: {min: 1}\n";
  return spec;
}

// One scheduler process: a store, the journal over it and a core, recovered from whatever
// the store holds. Destroying it without Shutdown() is a crash.
struct Scheduler {
  std::unique_ptr<StateStore> store;
  RecoveredJobs recovered;
  std::unique_ptr<StoreJobJournal> journal;
  RecordingOutbox outbox;
  std::unique_ptr<SchedulerCore> core;
};

class JobJournalTest : public ::testing::Test {
 protected:
  JobJournalTest() : clock_(absl::UnixEpoch() + absl::Hours(100)) {}
  void SetUp() override { directory_ = FreshTestDirectory(); }
  void TearDown() override { fs::remove_all(directory_); }

  // Starts a scheduler over directory_ (or over disk_ when `in_memory`), after the one `s`
  // held, if any, crashed.
  void Start(std::unique_ptr<Scheduler>& started, JobJournalOptions options = {},
             bool in_memory = false) {
    started.reset();
    started = std::make_unique<Scheduler>();
    Scheduler& s = *started;
    if (in_memory) {
      s.store = std::make_unique<InMemoryStateStore>(disk_);
    } else {
      ASSERT_OK_AND_ASSIGN(s.store, FileStateStore::Open(directory_));
    }
    ASSERT_OK_AND_ASSIGN(s.recovered, RecoverJobs(*s.store));
    s.journal = std::make_unique<StoreJobJournal>(s.store.get(), s.recovered, options);
    s.core = std::make_unique<SchedulerCore>(&clock_, CoreConfig(),
                                             Placer(DefaultPlacementProfile()), &s.outbox);
    ASSERT_OK(s.core->Restore(s.recovered.jobs, s.recovered.next_job_number, s.recovered.models));
    s.core->set_journal(s.journal.get());
  }

  JobId Submit(const std::unique_ptr<Scheduler>& s, int min, int max) {
    absl::StatusOr<JobId> id = s->core->SubmitJob(Spec(min, max));
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or("");
  }

  std::string NewestSegment() const {
    std::string newest;
    for (const auto& entry : fs::directory_iterator(directory_)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("wal-", 0) == 0 && name > newest) newest = name;
    }
    return absl::StrCat(directory_, "/", newest);
  }

  SimClock clock_;
  std::string directory_;
  std::shared_ptr<InMemoryStateStore::Disk> disk_ = std::make_shared<InMemoryStateStore::Disk>();
};

TEST_F(JobJournalTest, ARecordHoldsEverythingAJobNeeds) {
  JournaledJob in;
  Job& job = in.job;
  job.id = "j-7";
  job.submit_order = 7;
  job.submitted = absl::FromUnixMicros(123456789);
  job.spec = Spec(2, 4);
  job.spec.kind = KindPreference::kVehicle;
  job.spec.cpus_per_worker = 3;
  job.spec.memory_per_worker = 1 << 20;
  job.spec.min_link_mbps = 25.5;
  job.spec.max_failures = 2;
  job.state = JobState::kRunning;
  job.generation = 5;
  job.members = {"v2", "d1"};
  in.member_kinds = {NodeKind::kVehicle, NodeKind::kDatacenter};
  job.failures = 1;
  job.progress = JobProgress{900, 3, 0.81, "/ckpt/j-7"};
  job.assignment =
      Assignment{"j-7", 5, 0, 2, "job/j-7/gen/5/", {1, -1}, false, job.spec.job_yaml, "grew by d1"};
  job.events = {JobEvent{absl::FromUnixMicros(1000), "submitted"},
                JobEvent{absl::FromUnixMicros(2000), "generation 5"}};

  ASSERT_OK_AND_ASSIGN(const JournaledJob out, JobFromRecord(JobToRecord(job, in.member_kinds)));
  EXPECT_EQ(out.job.id, "j-7");
  EXPECT_EQ(out.job.submit_order, 7u);
  EXPECT_EQ(out.job.submitted, job.submitted);
  EXPECT_EQ(out.job.spec.name, "fashion");
  EXPECT_EQ(out.job.spec.priority, 3);
  EXPECT_EQ(out.job.spec.min_workers, 2);
  EXPECT_EQ(out.job.spec.max_workers, 4);
  EXPECT_EQ(out.job.spec.kind, KindPreference::kVehicle);
  EXPECT_EQ(out.job.spec.cpus_per_worker, 3);
  EXPECT_EQ(out.job.spec.memory_per_worker, 1 << 20);
  EXPECT_DOUBLE_EQ(out.job.spec.min_link_mbps, 25.5);
  EXPECT_EQ(out.job.spec.max_failures, 2);
  EXPECT_EQ(out.job.spec.job_yaml, job.spec.job_yaml);
  EXPECT_EQ(out.job.state, JobState::kRunning);
  EXPECT_EQ(out.job.generation, 5);
  EXPECT_THAT(out.job.members, ElementsAre("v2", "d1"));
  EXPECT_THAT(out.member_kinds, ElementsAre(NodeKind::kVehicle, NodeKind::kDatacenter));
  EXPECT_EQ(out.job.failures, 1);
  EXPECT_EQ(out.job.progress.step, 900);
  EXPECT_EQ(out.job.progress.epoch, 3);
  EXPECT_DOUBLE_EQ(out.job.progress.test_accuracy, 0.81);
  EXPECT_EQ(out.job.progress.checkpoint_dir, "/ckpt/j-7");
  EXPECT_EQ(out.job.assignment.job, "j-7");
  EXPECT_EQ(out.job.assignment.generation, 5);
  EXPECT_EQ(out.job.assignment.world, 2);
  EXPECT_EQ(out.job.assignment.store_prefix, "job/j-7/gen/5/");
  EXPECT_THAT(out.job.assignment.previous_rank, ElementsAre(1, -1));
  EXPECT_EQ(out.job.assignment.job_yaml, job.spec.job_yaml);
  EXPECT_EQ(out.job.assignment.reason, "grew by d1");
  ASSERT_THAT(out.job.events, SizeIs(2));
  EXPECT_EQ(out.job.events[1].time, absl::FromUnixMicros(2000));
  EXPECT_EQ(out.job.events[1].what, "generation 5");

  cosched::v1::JobRecord unknown_state = JobToRecord(job, in.member_kinds);
  unknown_state.set_state(static_cast<cosched::v1::StoredJobState>(42));
  EXPECT_THAT(JobFromRecord(unknown_state).status().message(),
              HasSubstr("job j-7: state 42 is not a job state"));
}

TEST_F(JobJournalTest, JobsSurviveARestartWithStateGenerationMembersAndProgress) {
  std::string running;
  std::string waiting;
  std::string cancelled;
  int64_t generation = 0;
  {
    std::unique_ptr<Scheduler> s;
    Start(s, JobJournalOptions{/*snapshot_every=*/3});
    ASSERT_OK(s->core->RegisterNode(Info("n1")));
    ASSERT_OK(s->core->RegisterNode(Info("v1", NodeKind::kVehicle)));
    Heartbeat eligible;
    eligible.signals = VehicleSignals{true, true, 0.9, true, true};
    ASSERT_OK(s->core->ReceiveHeartbeat("v1", eligible));
    running = Submit(s, 2, 2);
    waiting = Submit(s, 4, 4);
    cancelled = Submit(s, 4, 4);
    ASSERT_OK(s->core->CancelJob(cancelled));
    Heartbeat progress;
    progress.progress = JobProgress{120, 2, 0.6, "/ckpt/run"};
    ASSERT_OK(s->core->ReceiveHeartbeat("n1", progress));
    generation = s->core->FindJob(running)->generation;
    EXPECT_GE(s->journal->snapshots(), 1);  // the log has a snapshot and records after it
    EXPECT_EQ(s->journal->failed_appends(), 0);
  }  // a crash: no shutdown snapshot

  std::unique_ptr<Scheduler> s;
  Start(s);
  EXPECT_GT(s->recovered.snapshot_sequence, 0u);
  EXPECT_GT(s->recovered.records_replayed, 0u);
  EXPECT_THAT(s->recovered.warnings, IsEmpty());
  ASSERT_THAT(s->core->Jobs(), SizeIs(3));
  const Job& job = *s->core->FindJob(running);
  EXPECT_EQ(job.state, JobState::kRunning);
  EXPECT_EQ(job.generation, generation);
  EXPECT_THAT(job.members, ElementsAre("n1", "v1"));
  EXPECT_EQ(s->core->FindNode("v1")->info.kind, NodeKind::kVehicle);
  EXPECT_EQ(job.progress.step, 120);
  EXPECT_EQ(job.progress.checkpoint_dir, "/ckpt/run");
  EXPECT_EQ(job.spec.job_yaml, Spec(1, 1).job_yaml);
  EXPECT_THAT(job.events.front().what, HasSubstr("submitted"));
  EXPECT_EQ(s->core->FindJob(waiting)->state, JobState::kPending);
  EXPECT_EQ(s->core->FindJob(cancelled)->state, JobState::kCancelled);

  // The workers reconnect still running their generation: nothing moves.
  ASSERT_OK(s->core->RegisterNode(Info("n1"), running, generation));
  ASSERT_OK(s->core->RegisterNode(Info("v1", NodeKind::kVehicle), running, generation));
  EXPECT_EQ(job.generation, generation);
  EXPECT_EQ(s->outbox.assignments["v1"].rank, 1);
  EXPECT_EQ(s->outbox.assignments["v1"].generation, generation);
  EXPECT_EQ(Submit(s, 1, 1), "j-4");

  // A clean shutdown snapshots everything; the next start replays no records.
  ASSERT_OK(s->journal->WriteSnapshot());
  Start(s);
  EXPECT_EQ(s->recovered.records_replayed, 0u);
  EXPECT_THAT(s->core->Jobs(), SizeIs(4));
  EXPECT_EQ(s->recovered.next_job_number, 5u);
}

// Heartbeats report versions again after a restart; a choice made by hand is only in the log.
TEST_F(JobJournalTest, APromotionByHandOutlivesARestartThroughTheLogAndTheSnapshot) {
  auto serving = [](int64_t version) {
    Heartbeat heartbeat;
    heartbeat.served = ServedVersion{"mlp", version, -1, absl::UnixEpoch(), "j-1"};
    return heartbeat;
  };
  {
    std::unique_ptr<Scheduler> s;
    Start(s, JobJournalOptions{/*snapshot_every=*/2});
    JobSpec spec = Spec(1, 1);
    spec.serving.model = "mlp";
    spec.serving.max_staleness_steps = 10;
    ASSERT_OK(s->core->SubmitJob(spec).status());
    ASSERT_OK(s->core->RegisterNode(Info("n1")));
    ASSERT_OK(s->core->ReceiveHeartbeat("n1", serving(100)));
    ASSERT_OK(s->core->ReceiveHeartbeat("n1", serving(200)));
    ASSERT_OK(s->core->PromoteModel("mlp", 100));
  }  // a crash
  std::unique_ptr<Scheduler> s;
  Start(s, JobJournalOptions{/*snapshot_every=*/2});
  ASSERT_THAT(s->recovered.models, SizeIs(1));
  const ServedModel* model = s->core->models().Find("mlp");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->serving, 100);
  EXPECT_TRUE(model->pinned);
  ASSERT_OK(s->core->ReceiveHeartbeat("n1", serving(300)));  // the worker is back, further on
  EXPECT_EQ(model->serving, 100);                            // still pinned
  // Rollback undoes the promotion made before the restart: the newest serves again.
  ASSERT_OK(s->core->RollbackModel("mlp"));
  EXPECT_EQ(model->serving, 300);
  EXPECT_FALSE(model->pinned);
  // A clean shutdown snapshots the choice too.
  ASSERT_OK(s->journal->WriteSnapshot());
  Start(s);
  EXPECT_EQ(s->recovered.records_replayed, 0u);
  ASSERT_THAT(s->recovered.models, SizeIs(1));
  EXPECT_FALSE(s->recovered.models.front().pinned);
  EXPECT_EQ(s->core->models().Find("mlp")->serving, 300);
}

TEST_F(JobJournalTest, AServingCheckpointVersionOutlivesARestartWithItsFile) {
  {
    std::unique_ptr<Scheduler> s;
    Start(s);
    ModelVersionRecord record;
    record.version = 1200;
    record.test_accuracy = 0.84;
    record.checkpoint = "/runs/a/ckpt-000000001200.bin";
    ASSERT_OK(s->core->PublishModelVersion("imported", record,
                                           std::make_shared<const std::string>("w"),
                                           /*promote=*/true));
  }  // a crash
  std::unique_ptr<Scheduler> s;
  Start(s);
  const ServedModel* model = s->core->models().Find("imported");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->serving, 1200);
  EXPECT_TRUE(model->pinned);
  EXPECT_EQ(model->versions.at(1200).checkpoint, "/runs/a/ckpt-000000001200.bin");
  EXPECT_DOUBLE_EQ(model->versions.at(1200).test_accuracy, 0.84);
}

TEST_F(JobJournalTest, ATornLogTailIsCutWithAWarningAndTheSchedulerCarriesOn) {
  std::string first;
  std::string second;
  {
    std::unique_ptr<Scheduler> s;
    Start(s);
    ASSERT_OK(s->core->RegisterNode(Info("n1")));
    first = Submit(s, 1, 1);                // record 1: running on n1
    second = Submit(s, 1, 1);               // record 2: pending
    ASSERT_OK(s->core->CancelJob(second));  // record 3, torn below
    EXPECT_EQ(s->journal->appends(), 3);
  }
  const std::string segment = NewestSegment();
  fs::resize_file(segment, fs::file_size(segment) - 5);  // a crash in the middle of an append

  {
    std::unique_ptr<Scheduler> s;
    Start(s);
    ASSERT_THAT(s->recovered.warnings, SizeIs(1));
    EXPECT_THAT(s->recovered.warnings[0], HasSubstr("torn"));
    ASSERT_THAT(s->core->Jobs(), SizeIs(2));
    EXPECT_EQ(s->core->FindJob(first)->state, JobState::kRunning);
    EXPECT_THAT(s->core->FindJob(first)->members, ElementsAre("n1"));
    // The cut record was the cancellation, so the job is as before it; the user never heard
    // it succeed (the reply follows the append).
    EXPECT_EQ(s->core->FindJob(second)->state, JobState::kPending);
    const std::string third = Submit(s, 1, 1);
    EXPECT_EQ(third, "j-3");
    EXPECT_EQ(s->journal->failed_appends(), 0);
    EXPECT_EQ(s->journal->appends(), 1);
  }
  std::unique_ptr<Scheduler> s;
  Start(s);
  EXPECT_THAT(s->recovered.warnings, IsEmpty());
  EXPECT_THAT(s->core->Jobs(), SizeIs(3));
  EXPECT_EQ(Submit(s, 1, 1), "j-4");
}

TEST_F(JobJournalTest, ARecordThatDoesNotParseIsDataLossNamingItsSequence) {
  {
    std::unique_ptr<Scheduler> s;
    Start(s, {}, /*in_memory=*/true);
    Submit(s, 1, 1);
    ASSERT_OK(s->store->Append("\xff\xff\xff").status());  // not a StateLogRecord
  }
  InMemoryStateStore store(disk_);
  const absl::Status status = RecoverJobs(store).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr("record 2 (3 bytes) does not parse"));
}

TEST_F(JobJournalTest, SnapshotsEveryNAppendsCoverTheLogBehindThem) {
  {
    std::unique_ptr<Scheduler> s;
    Start(s, JobJournalOptions{/*snapshot_every=*/2}, /*in_memory=*/true);
    for (int i = 0; i < 5; ++i) Submit(s, 1, 1);
    EXPECT_EQ(s->journal->snapshots(), 2);
  }
  std::unique_ptr<Scheduler> s;
  Start(s, {}, /*in_memory=*/true);
  EXPECT_EQ(s->recovered.snapshot_sequence, 4u);
  EXPECT_EQ(s->recovered.records_replayed, 1u);
  EXPECT_THAT(s->core->Jobs(), SizeIs(5));
  EXPECT_EQ(Submit(s, 1, 1), "j-6");
}

TEST_F(JobJournalTest, AFailedAppendIsCountedNotFatal) {
  InMemoryStateStore store;  // never recovered: every append fails
  StoreJobJournal journal(&store, RecoveredJobs());
  RecordingOutbox outbox;
  SchedulerCore core(&clock_, CoreConfig(), Placer(DefaultPlacementProfile()), &outbox);
  core.set_journal(&journal);
  ASSERT_TRUE(core.SubmitJob(Spec(1, 1)).ok());
  EXPECT_EQ(journal.failed_appends(), 1);
  EXPECT_EQ(journal.appends(), 0);
  EXPECT_EQ(journal.WriteSnapshot().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace cosched::scheduler
