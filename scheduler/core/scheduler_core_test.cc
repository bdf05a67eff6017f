#include "scheduler/core/scheduler_core.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <memory>

namespace cosched::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records what the core tells workers; the latest assignment per node is what it runs.
class RecordingOutbox : public CoreOutbox {
 public:
  void Assign(const NodeId& node, const Assignment& assignment) override {
    assignments[node] = assignment;
    revocations.erase(node);
    ++assign_messages;
  }
  void Revoke(const NodeId& node, const Revocation& revocation) override {
    revocations[node] = revocation;
    assignments.erase(node);
  }
  void GenerationsEnded(const JobId& job, int64_t generation) override { ended[job] = generation; }
  void LoadModel(const NodeId& node, const ModelLoad& load) override { loads[node] = load; }
  void RequestWeights(const NodeId& node, const WeightsRequest& request) override {
    weight_requests.emplace_back(node, request);
  }
  std::map<JobId, int64_t> ended;  // the latest "generations before g ended" per job
  std::map<NodeId, ModelLoad> loads;
  std::vector<std::pair<NodeId, WeightsRequest>> weight_requests;
  std::map<NodeId, Assignment> assignments;
  std::map<NodeId, Revocation> revocations;
  int assign_messages = 0;
};

// Records what the core journals: each call, and the latest state of each job.
class RecordingJournal : public JobJournal {
 public:
  explicit RecordingJournal(const RecordingOutbox* outbox) : outbox_(outbox) {}
  void JobChanged(const Job& job, const std::vector<NodeKind>& member_kinds) override {
    calls.push_back(job.id);
    latest[job.id] = JournaledJob{job, member_kinds};
    assign_messages_when_journaled.push_back(outbox_->assign_messages);
  }
  std::vector<JournaledJob> Jobs() const {
    std::vector<JournaledJob> jobs;
    for (const auto& [id, job] : latest) jobs.push_back(job);
    return jobs;
  }
  std::vector<JobId> calls;
  std::map<JobId, JournaledJob> latest;
  std::vector<int> assign_messages_when_journaled;  // how many assignments had gone out

 private:
  const RecordingOutbox* const outbox_;
};

class SchedulerCoreTest : public ::testing::Test {
 protected:
  SchedulerCoreTest()
      : clock_(absl::UnixEpoch() + absl::Hours(100)),
        journal_(&outbox_),
        core_(&clock_, CoreConfig(), Placer(DefaultPlacementProfile()), &outbox_) {
    core_.set_journal(&journal_);
  }

  static NodeInfo Info(const std::string& id, NodeKind kind = NodeKind::kDatacenter,
                       const std::string& zone = "z") {
    NodeInfo info;
    info.id = id;
    info.kind = kind;
    info.cpus = 2;
    info.link_mbps = 1000;
    info.zone = zone;
    return info;
  }
  void AddNode(const std::string& id, NodeKind kind = NodeKind::kDatacenter,
               const std::string& zone = "z") {
    ASSERT_TRUE(core_.RegisterNode(Info(id, kind, zone)).ok());
  }
  void BeatProgress(const std::string& id, JobProgress progress) {
    Heartbeat heartbeat;
    heartbeat.progress = std::move(progress);
    ASSERT_TRUE(core_.ReceiveHeartbeat(id, heartbeat).ok());
  }
  // `id`'s worker reports that it runs `job`'s current generation.
  void BeatRunning(const std::string& id, const JobId& job) {
    Heartbeat heartbeat;
    heartbeat.job = job;
    heartbeat.generation = core_.FindJob(job)->generation;
    ASSERT_TRUE(core_.ReceiveHeartbeat(id, heartbeat).ok());
  }
  // A new core over what the journal holds, as after a scheduler restart.
  std::unique_ptr<SchedulerCore> Restart() {
    auto core = std::make_unique<SchedulerCore>(&clock_, CoreConfig(),
                                                Placer(DefaultPlacementProfile()), &restarted_);
    const absl::Status restored = core->Restore(journal_.Jobs(), core_.next_job_number());
    EXPECT_TRUE(restored.ok()) << restored;
    return core;
  }
  static VehicleSignals Eligible() { return VehicleSignals{true, true, 0.9, true, true}; }
  void Beat(const std::string& id, VehicleSignals signals = VehicleSignals()) {
    Heartbeat heartbeat;
    heartbeat.signals = signals;
    ASSERT_TRUE(core_.ReceiveHeartbeat(id, heartbeat).ok());
  }
  JobId Submit(int min, int max, KindPreference kind = KindPreference::kAny, int priority = 0,
               int max_failures = 3) {
    JobSpec spec;
    spec.name = "fashion";
    spec.min_workers = min;
    spec.max_workers = max;
    spec.kind = kind;
    spec.priority = priority;
    spec.max_failures = max_failures;
    spec.serving.model = absl::StrCat("fashion-", ++models_declared_);  // ModelOf(job)
    spec.serving.max_staleness_steps = 100;
    auto id = core_.SubmitJob(spec);
    EXPECT_TRUE(id.ok()) << id.status();
    return *id;
  }
  int models_declared_ = 0;
  // Whatever a test did, the index of available nodes must agree with the nodes.
  void TearDown() override { EXPECT_TRUE(core_.CheckInvariants().ok()) << core_.CheckInvariants(); }
  const Job& GetJob(const JobId& id) { return *core_.FindJob(id); }
  // Advances past the TTL while `alive` keep heartbeating, then ticks.
  void ExpireAllBut(const std::vector<std::string>& alive) {
    clock_.Advance(absl::Seconds(2));
    for (const auto& id : alive) Beat(id);
    clock_.Advance(absl::Seconds(2));
    for (const auto& id : alive) Beat(id);
    core_.Tick();
  }

  SimClock clock_;
  RecordingOutbox outbox_;
  RecordingJournal journal_;
  SchedulerCore core_;
  RecordingOutbox restarted_;  // the outbox of the core Restart() builds
};

TEST_F(SchedulerCoreTest, GangAdmissionWaitsForMinWorkersThenGrowsTowardMax) {
  AddNode("n1");
  const JobId job = Submit(2, 3);
  EXPECT_EQ(GetJob(job).state, JobState::kPending);
  EXPECT_THAT(core_.WaitingReason(GetJob(job)), HasSubstr("needs 2 nodes, 1 fit"));
  EXPECT_TRUE(outbox_.assignments.empty());  // never a partial gang

  AddNode("n2");
  EXPECT_EQ(GetJob(job).state, JobState::kRunning);
  EXPECT_EQ(GetJob(job).generation, 0);
  ASSERT_EQ(outbox_.assignments.size(), 2u);
  EXPECT_EQ(outbox_.assignments["n1"].world, 2);
  EXPECT_EQ(outbox_.assignments["n1"].store_prefix, "job/" + job + "/gen/0/");

  AddNode("n3");
  EXPECT_EQ(GetJob(job).generation, 1);
  EXPECT_THAT(GetJob(job).members, ElementsAre("n1", "n2", "n3"));
  EXPECT_EQ(outbox_.assignments["n3"].world, 3);
  EXPECT_THAT(outbox_.assignments["n3"].previous_rank, ElementsAre(0, 1, -1));
  AddNode("n4");  // at max_workers: no change
  EXPECT_EQ(GetJob(job).generation, 1);
  EXPECT_TRUE(core_.FindNode("n4")->free());
}

TEST_F(SchedulerCoreTest, ANodeThatMissesTheTtlIsLostAndTheJobShrinksWithoutStopping) {
  for (const char* id : {"n1", "n2", "n3"}) AddNode(id);
  const JobId job = Submit(2, 3);
  ASSERT_EQ(GetJob(job).members.size(), 3u);
  clock_.Advance(absl::Seconds(2));
  Beat("n1");
  Beat("n3");
  core_.Tick();  // n2 heartbeat 2 s old: still alive at a 3 s TTL
  EXPECT_EQ(core_.FindNode("n2")->state, NodeState::kReady);
  clock_.Advance(absl::Seconds(2));
  Beat("n1");
  Beat("n3");
  core_.Tick();
  EXPECT_EQ(core_.FindNode("n2")->state, NodeState::kLost);
  const Job& j = GetJob(job);
  EXPECT_EQ(j.state, JobState::kRunning);
  EXPECT_EQ(j.generation, 1);
  EXPECT_THAT(j.members, ElementsAre("n1", "n3"));
  EXPECT_EQ(j.failures, 1);  // a data-center node lost mid-job is a crash
  EXPECT_EQ(outbox_.revocations["n2"].budget, absl::ZeroDuration());  // a revocation, no notice
  EXPECT_EQ(outbox_.assignments["n3"].rank, 1);
  EXPECT_THAT(outbox_.assignments["n3"].previous_rank, ElementsAre(0, 2));
  EXPECT_THAT(j.events.back().what, HasSubstr("node n2 crashed: no heartbeat"));
  // A lost node must register again before its heartbeats count.
  EXPECT_EQ(core_.ReceiveHeartbeat("n2", Heartbeat()).code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerCoreTest, VehiclesTrainOnlyWhileEligibleAndLeavingIsNotAFailure) {
  AddNode("d1");
  AddNode("v1", NodeKind::kVehicle);  // no signals yet: ineligible
  const JobId job = Submit(1, 2);
  EXPECT_THAT(GetJob(job).members, ElementsAre("d1"));
  EXPECT_EQ(core_.FindNode("v1")->state, NodeState::kIneligible);
  EXPECT_THAT(core_.WaitingReason(GetJob(job)), HasSubstr("ineligible (not parked"));

  Beat("v1", Eligible());
  EXPECT_THAT(GetJob(job).members, ElementsAre("d1", "v1"));
  EXPECT_EQ(GetJob(job).generation, 1);

  VehicleSignals unplugged = Eligible();
  unplugged.plugged_in = false;
  Beat("v1", unplugged);
  EXPECT_THAT(GetJob(job).members, ElementsAre("d1"));
  EXPECT_EQ(GetJob(job).generation, 2);
  EXPECT_EQ(GetJob(job).failures, 0);
  EXPECT_EQ(core_.counters().membership_changes.at("ineligible"), 1);

  Beat("v1", Eligible());  // plugged back in: rejoins
  EXPECT_EQ(GetJob(job).generation, 3);
  ExpireAllBut({"d1"});  // the vehicle drives out of coverage
  EXPECT_EQ(GetJob(job).failures, 0);
  EXPECT_EQ(core_.counters().membership_changes.at("vanished"), 1);
  EXPECT_EQ(GetJob(job).state, JobState::kRunning);
}

TEST_F(SchedulerCoreTest, KindPreferenceKeepsDatacenterJobsOffVehicles) {
  AddNode("v1", NodeKind::kVehicle);
  Beat("v1", Eligible());
  const JobId job = Submit(1, 1, KindPreference::kDatacenter);
  EXPECT_EQ(GetJob(job).state, JobState::kPending);
  EXPECT_THAT(core_.WaitingReason(GetJob(job)), HasSubstr("job wants datacenter nodes"));
  AddNode("d1");
  EXPECT_THAT(GetJob(job).members, ElementsAre("d1"));
}

TEST_F(SchedulerCoreTest, CrashesBeyondTheFailureBudgetFailTheJob) {
  for (const char* id : {"n1", "n2", "n3"}) AddNode(id);
  const JobId job = Submit(1, 3, KindPreference::kAny, 0, /*max_failures=*/1);
  Heartbeat crashed;
  crashed.failure = "allreduce: peer reset";
  ASSERT_TRUE(core_.ReceiveHeartbeat("n3", crashed).ok());
  EXPECT_EQ(GetJob(job).state, JobState::kRunning);
  EXPECT_EQ(GetJob(job).failures, 1);
  // n3 is free again and rejoins at once (it did not die, its training did).
  ASSERT_TRUE(core_.ReceiveHeartbeat("n2", crashed).ok());
  EXPECT_EQ(GetJob(job).state, JobState::kFailed);
  EXPECT_THAT(GetJob(job).events.back().what, HasSubstr("2 failures exceed max_failures 1"));
  EXPECT_TRUE(outbox_.assignments.empty());
  EXPECT_EQ(outbox_.revocations.size(), 3u);
}

TEST_F(SchedulerCoreTest, BelowMinimumTheJobWaitsAndRestartsFromItsCheckpoint) {
  AddNode("n1");
  AddNode("n2");
  const JobId job = Submit(2, 2);
  ASSERT_EQ(GetJob(job).state, JobState::kRunning);
  ExpireAllBut({"n2"});
  EXPECT_EQ(GetJob(job).state, JobState::kPending);
  EXPECT_TRUE(core_.FindNode("n2")->free());
  EXPECT_THAT(outbox_.revocations["n2"].reason, HasSubstr("below workers.min"));
  AddNode("n3");
  EXPECT_EQ(GetJob(job).state, JobState::kRunning);
  EXPECT_TRUE(outbox_.assignments["n3"].restore_from_checkpoint);
  EXPECT_THAT(outbox_.assignments["n3"].previous_rank, ElementsAre(-1, -1));
}

TEST_F(SchedulerCoreTest, QueueIsPriorityThenSubmissionOrderWithBackfill) {
  const JobId big = Submit(3, 3);
  const JobId urgent = Submit(2, 2, KindPreference::kAny, /*priority=*/5);
  const JobId small = Submit(1, 1);
  AddNode("n1");
  // One node: urgent needs 2, big needs 3; the small job fits (backfill).
  EXPECT_EQ(GetJob(small).state, JobState::kRunning);
  EXPECT_EQ(GetJob(urgent).state, JobState::kPending);
  AddNode("n2");
  AddNode("n3");
  EXPECT_EQ(GetJob(urgent).state, JobState::kRunning);  // priority first
  EXPECT_EQ(GetJob(big).state, JobState::kPending);
  EXPECT_THAT(core_.WaitingReason(GetJob(big)), HasSubstr("3 busy"));
}

// A member that finished before it joined the newest generation (another member left just
// before the end) still reports the final evaluation, and the job keeps it.
TEST_F(SchedulerCoreTest, AFinisherStillInAnOlderGenerationGivesTheJobItsFinalAccuracy) {
  AddNode("n1");
  const JobId id = Submit(1, 2);
  AddNode("n2");
  ASSERT_EQ(GetJob(id).members.size(), 2u);
  const int64_t generation = GetJob(id).generation;
  ASSERT_GE(generation, 1);  // admitted with one member, then grew
  Heartbeat done;
  done.job = id;
  done.generation = generation - 1;  // an older generation than the job's
  done.job_finished = true;
  done.progress = JobProgress{40, 6, 0.87, ""};
  ASSERT_TRUE(core_.ReceiveHeartbeat("n1", done).ok());
  EXPECT_EQ(GetJob(id).state, JobState::kSucceeded);
  EXPECT_DOUBLE_EQ(GetJob(id).progress.test_accuracy, 0.87);
}

TEST_F(SchedulerCoreTest, FinishingOrCancellingFreesNodesForTheNextJob) {
  AddNode("n1");
  const JobId first = Submit(1, 1);
  const JobId second = Submit(1, 1);
  EXPECT_EQ(GetJob(second).state, JobState::kPending);
  Heartbeat done;
  done.job_finished = true;
  done.progress = JobProgress{500, 6, 0.88, "/ckpt"};
  ASSERT_TRUE(core_.ReceiveHeartbeat("n1", done).ok());
  EXPECT_EQ(GetJob(first).state, JobState::kSucceeded);
  EXPECT_DOUBLE_EQ(GetJob(first).progress.test_accuracy, 0.88);
  EXPECT_EQ(GetJob(second).state, JobState::kRunning);
  ASSERT_TRUE(core_.CancelJob(second).ok());
  EXPECT_EQ(GetJob(second).state, JobState::kCancelled);
  EXPECT_EQ(outbox_.revocations["n1"].reason, "cancelled by the user");
  EXPECT_EQ(core_.CancelJob(second).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(core_.CancelJob("j-99").code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerCoreTest, AWorkerThatRestartsCountsAsACrashButAReconnectDoesNot) {
  AddNode("n1");
  AddNode("n2");
  const JobId job = Submit(1, 2);
  const int64_t generation = GetJob(job).generation;
  NodeInfo info;
  info.id = "n1";
  info.cpus = 2;
  info.link_mbps = 1000;
  info.zone = "z";
  // Same generation still running (the scheduler restarted, or the stream dropped).
  ASSERT_TRUE(core_.RegisterNode(info, job, generation).ok());
  EXPECT_EQ(GetJob(job).generation, generation);
  EXPECT_EQ(GetJob(job).failures, 0);
  // Registers with nothing running: the worker process restarted and lost its state.
  ASSERT_TRUE(core_.RegisterNode(info).ok());
  EXPECT_EQ(GetJob(job).failures, 1);
  EXPECT_EQ(GetJob(job).generation, generation + 1);  // left and rejoined in one change
  EXPECT_EQ(GetJob(job).members.size(), 2u);
}

TEST_F(SchedulerCoreTest, BadSpecsAreRefusedWithTheReason) {
  JobSpec spec;
  spec.min_workers = 3;
  spec.max_workers = 2;
  EXPECT_THAT(core_.SubmitJob(spec).status().message(), HasSubstr("workers.max (2)"));
  spec.min_workers = 0;
  EXPECT_THAT(core_.SubmitJob(spec).status().message(), HasSubstr("workers.min"));
  NodeInfo nameless;
  EXPECT_EQ(core_.RegisterNode(nameless).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SchedulerCoreTest, TheJournalHearsOfEachChangedJobOncePerCallBeforeAnyWorker) {
  AddNode("n1");
  AddNode("n2");
  EXPECT_TRUE(journal_.calls.empty());  // nodes are not durable
  const JobId a = Submit(2, 2);         // submitted, admitted, generation 0: one call
  EXPECT_THAT(journal_.calls, ElementsAre(a));
  EXPECT_THAT(journal_.assign_messages_when_journaled, ElementsAre(0));  // written ahead
  EXPECT_EQ(outbox_.assign_messages, 2);
  const JournaledJob& recorded = journal_.latest.at(a);
  EXPECT_EQ(recorded.job.state, JobState::kRunning);
  EXPECT_EQ(recorded.job.generation, 0);
  EXPECT_THAT(recorded.job.members, ElementsAre("n1", "n2"));
  EXPECT_THAT(recorded.member_kinds, ElementsAre(NodeKind::kDatacenter, NodeKind::kDatacenter));

  const JobId b = Submit(1, 1);  // pending
  EXPECT_THAT(journal_.calls, ElementsAre(a, b));
  Beat("n1");  // nothing durable changed
  core_.Tick();
  EXPECT_THAT(journal_.calls, ElementsAre(a, b));
  AddNode("n3");  // b admitted
  EXPECT_THAT(journal_.calls, ElementsAre(a, b, b));
  EXPECT_EQ(journal_.latest.at(b).job.state, JobState::kRunning);

  Heartbeat crashed;
  crashed.failure = "allreduce: peer reset";
  // a falls below its minimum and, n1 being free again, is re-admitted in the same call: one
  // record, and a new generation that restores from the checkpoint (the survivor was revoked).
  ASSERT_TRUE(core_.ReceiveHeartbeat("n1", crashed).ok());
  EXPECT_THAT(journal_.calls, ElementsAre(a, b, b, a));
  const Job& readmitted = journal_.latest.at(a).job;
  EXPECT_EQ(readmitted.state, JobState::kRunning);
  EXPECT_EQ(readmitted.failures, 1);
  EXPECT_EQ(readmitted.generation, 1);
  EXPECT_THAT(readmitted.members, ElementsAre("n2", "n1"));
  EXPECT_TRUE(outbox_.assignments["n1"].restore_from_checkpoint);
  EXPECT_THAT(outbox_.assignments["n1"].previous_rank, ElementsAre(-1, -1));
}

TEST_F(SchedulerCoreTest, ProgressAloneIsJournaledAtMostEveryInterval) {
  AddNode("n1");
  const JobId job = Submit(1, 1);
  journal_.calls.clear();
  clock_.Advance(absl::Seconds(1));
  BeatProgress("n1", JobProgress{10, 0, -1, ""});
  clock_.Advance(absl::Seconds(2));
  BeatProgress("n1", JobProgress{20, 0, -1, ""});
  EXPECT_TRUE(journal_.calls.empty());
  clock_.Advance(absl::Seconds(2));  // 5 s after the last record
  core_.Tick();
  EXPECT_THAT(journal_.calls, ElementsAre(job));
  EXPECT_EQ(journal_.latest.at(job).job.progress.step, 20);

  clock_.Advance(absl::Seconds(1));
  BeatProgress("n1", JobProgress{20, 0, -1, "/ckpt/a"});  // a checkpoint: at once
  EXPECT_THAT(journal_.calls, ElementsAre(job, job));
  EXPECT_EQ(journal_.latest.at(job).job.progress.checkpoint_dir, "/ckpt/a");
  clock_.Advance(absl::Seconds(1));
  BeatProgress("n1", JobProgress{30, 1, 0.5, "/ckpt/a"});
  clock_.Advance(absl::Seconds(2));
  BeatProgress("n1", JobProgress{30, 1, 0.5, "/ckpt/a"});
  EXPECT_EQ(journal_.calls.size(), 2u);
  clock_.Advance(absl::Seconds(2));
  core_.Tick();
  ASSERT_EQ(journal_.calls.size(), 3u);
  EXPECT_EQ(journal_.latest.at(job).job.progress.step, 30);
  EXPECT_DOUBLE_EQ(journal_.latest.at(job).job.progress.test_accuracy, 0.5);
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(absl::Seconds(2));
    BeatProgress("n1", JobProgress{30, 1, 0.5, "/ckpt/a"});  // unchanged: nothing to write
    core_.Tick();
  }
  EXPECT_EQ(journal_.calls.size(), 3u);
}

TEST_F(SchedulerCoreTest, RestoredMembersKeepTheirRanksWhenTheirWorkersComeBack) {
  AddNode("n1");
  AddNode("n2");
  AddNode("v1", NodeKind::kVehicle);
  Beat("v1", Eligible());
  const JobId job = Submit(2, 3);
  const JobId waiting = Submit(5, 5);
  BeatProgress("n1", JobProgress{40, 2, 0.7, "/ckpt/j1"});
  BeatRunning("n2", job);  // n2's worker ran the job before the restart
  const Job before = GetJob(job);
  ASSERT_THAT(before.members, ElementsAre("n1", "n2", "v1"));

  std::unique_ptr<SchedulerCore> core = Restart();
  const Job& restored = *core->FindJob(job);
  EXPECT_EQ(restored.state, JobState::kRunning);
  EXPECT_EQ(restored.generation, before.generation);
  EXPECT_THAT(restored.members, ElementsAre("n1", "n2", "v1"));
  EXPECT_EQ(restored.progress.checkpoint_dir, "/ckpt/j1");
  EXPECT_EQ(core->FindJob(waiting)->state, JobState::kPending);
  ASSERT_NE(core->FindNode("v1"), nullptr);
  EXPECT_EQ(core->FindNode("v1")->info.kind, NodeKind::kVehicle);
  EXPECT_EQ(core->FindNode("v1")->job, job);
  // Placeholders are never placed: a new job waits for real nodes, with a fresh id.
  JobSpec spec;
  const absl::StatusOr<JobId> fresh = core->SubmitJob(spec);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(*fresh, "j-3");
  EXPECT_EQ(core->FindJob(*fresh)->state, JobState::kPending);

  // Still running the same generation: keeps its rank and is told its assignment again.
  ASSERT_TRUE(core->RegisterNode(Info("n1"), job, before.generation).ok());
  ASSERT_TRUE(core->RegisterNode(Info("v1", NodeKind::kVehicle), job, before.generation).ok());
  EXPECT_EQ(restored.generation, before.generation);
  EXPECT_EQ(restarted_.assignments["n1"].rank, 0);
  EXPECT_EQ(restarted_.assignments["v1"].rank, 2);
  EXPECT_EQ(restarted_.assignments["v1"].generation, before.generation);
  EXPECT_EQ(restarted_.assignments["v1"].job_yaml, before.spec.job_yaml);
  Heartbeat eligible;
  eligible.signals = Eligible();
  ASSERT_TRUE(core->ReceiveHeartbeat("v1", eligible).ok());
  EXPECT_THAT(restored.members, ElementsAre("n1", "n2", "v1"));
  EXPECT_EQ(restored.failures, 0);

  // Running nothing: the worker restarted. It departs (a crash) and, free again, serves the
  // pending job that was submitted first in the queue.
  ASSERT_TRUE(core->RegisterNode(Info("n2")).ok());
  EXPECT_EQ(restored.failures, 1);
  EXPECT_EQ(restored.generation, before.generation + 1);
  EXPECT_THAT(restored.members, ElementsAre("n1", "v1"));
  EXPECT_THAT(core->FindJob(*fresh)->members, ElementsAre("n2"));
  EXPECT_EQ(restarted_.assignments["v1"].rank, 1);
}

TEST_F(SchedulerCoreTest, ARestoredMemberThatNeverReturnsIsLostAfterTheTtl) {
  AddNode("n1");
  AddNode("n2");
  const JobId job = Submit(2, 2);
  const int64_t generation = GetJob(job).generation;
  std::unique_ptr<SchedulerCore> core = Restart();
  ASSERT_TRUE(core->RegisterNode(Info("n1"), job, generation).ok());
  for (int i = 0; i < 2; ++i) {
    clock_.Advance(absl::Seconds(2));
    ASSERT_TRUE(core->ReceiveHeartbeat("n1", Heartbeat()).ok());
    core->Tick();
  }
  EXPECT_EQ(core->FindNode("n2")->state, NodeState::kLost);
  const Job& restored = *core->FindJob(job);
  EXPECT_EQ(restored.state, JobState::kPending);  // below workers.min
  EXPECT_EQ(restored.failures, 1);
  EXPECT_THAT(restored.events.back().what, HasSubstr("below workers.min"));
  EXPECT_EQ(restarted_.revocations["n1"].job, job);

  // It comes back later, still running the old generation: that is over, and the job starts
  // a new one from its checkpoint on n1 and n2.
  ASSERT_TRUE(core->RegisterNode(Info("n2"), job, generation).ok());
  EXPECT_EQ(restored.state, JobState::kRunning);
  EXPECT_EQ(restored.generation, generation + 1);
  EXPECT_TRUE(restarted_.assignments["n2"].restore_from_checkpoint);
}

// The job moved on while a member was away (its session broke, nothing was lost): coming back
// with the older generation it still runs, it keeps its rank and hears the newest assignment.
// Charging that as a crash failed jobs within their budget in the control-plane simulation.
TEST_F(SchedulerCoreTest, AMemberBackFromAnOlderGenerationOfItsJobKeepsItsRank) {
  AddNode("n1");
  AddNode("n2");
  const JobId job = Submit(2, 3);
  const int64_t away_at = GetJob(job).generation;
  core_.NodeDisconnected("n1");
  AddNode("n3");  // the job grows meanwhile: a newer generation n1 has not heard of
  ASSERT_EQ(GetJob(job).generation, away_at + 1);
  ASSERT_THAT(GetJob(job).members, ElementsAre("n1", "n2", "n3"));

  ASSERT_TRUE(core_.RegisterNode(Info("n1"), job, away_at).ok());
  EXPECT_EQ(GetJob(job).failures, 0);
  EXPECT_EQ(GetJob(job).generation, away_at + 1);
  EXPECT_THAT(GetJob(job).members, ElementsAre("n1", "n2", "n3"));
  EXPECT_EQ(outbox_.assignments["n1"].generation, away_at + 1);
  EXPECT_EQ(outbox_.assignments["n1"].rank, 0);
}

// The scheduler restarted before a new member's assignment reached it: its worker registers
// running nothing, but it never confirmed the job, so it did not restart. It keeps its rank and
// is told again; nothing is charged. (Found by the control-plane simulation.)
TEST_F(SchedulerCoreTest, AMemberThatNeverHeardOfItsAssignmentIsToldAgain) {
  AddNode("n1");
  AddNode("n2");
  const JobId job = Submit(1, 2);
  BeatRunning("n1", job);
  std::unique_ptr<SchedulerCore> core = Restart();
  ASSERT_TRUE(core->RegisterNode(Info("n1")).ok());  // confirmed before: it restarted
  const Job& restored = *core->FindJob(job);
  EXPECT_EQ(restored.failures, 1);
  const int64_t generation = restored.generation;

  ASSERT_TRUE(core->RegisterNode(Info("n2")).ok());  // never confirmed: told again
  EXPECT_EQ(restored.failures, 1);
  EXPECT_THAT(restored.members, ::testing::Contains("n2"));
  EXPECT_EQ(restored.generation, generation);
  EXPECT_EQ(restarted_.assignments["n2"].job, job);
}

TEST_F(SchedulerCoreTest, AWorkerStillRunningAJobThatDroppedItIsToldToStop) {
  AddNode("n1");
  const JobId job = Submit(1, 1);
  ASSERT_TRUE(core_.CancelJob(job).ok());
  outbox_.revocations.clear();
  // It missed the revocation (its session was down) and reconnects still running the job.
  ASSERT_TRUE(core_.RegisterNode(Info("n1"), job, 0).ok());
  EXPECT_EQ(outbox_.revocations["n1"].job, job);
  EXPECT_EQ(GetJob(job).failures, 0);
}

TEST_F(SchedulerCoreTest, RestoreRefusesInconsistentRecordsAndALiveCore) {
  AddNode("n1");
  const JobId job = Submit(1, 1);
  EXPECT_EQ(core_.Restore(journal_.Jobs(), 2).code(), absl::StatusCode::kFailedPrecondition);

  SchedulerCore fresh(&clock_, CoreConfig(), Placer(DefaultPlacementProfile()), &restarted_);
  std::vector<JournaledJob> twice = journal_.Jobs();
  twice.push_back(twice.front());
  twice.back().job.id = "j-9";
  const absl::Status shared = fresh.Restore(twice, 10);
  EXPECT_EQ(shared.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(shared.message(), HasSubstr("node n1 is a member of both " + job + " and j-9"));
  std::vector<JournaledJob> kinds = journal_.Jobs();
  kinds.front().member_kinds.clear();
  EXPECT_THAT(fresh.Restore(kinds, 2).message(), HasSubstr("1 members but 0 member kinds"));
  EXPECT_TRUE(fresh.Jobs().empty());  // a refused restore changes nothing
  EXPECT_TRUE(fresh.Nodes().empty());
}

// Keeps every node heartbeating while virtual time passes (so none is lost), then ticks.
// The model `job` trains, and a heartbeat that serves version `version` of it.
std::string ModelOf(const SchedulerCore& core, const JobId& job) {
  return core.FindJob(job)->spec.serving.model;
}
Heartbeat Serving(const std::string& model, int64_t version) {
  Heartbeat heartbeat;
  heartbeat.served = ServedVersion{model, version, -1, absl::Time(), ""};
  return heartbeat;
}

// Members report their job's model at version 10 (a node that has left keeps its last).
void KeepAlive(SimClock& clock, SchedulerCore& core, absl::Duration total) {
  for (absl::Duration passed; passed < total; passed += absl::Seconds(1)) {
    clock.Advance(absl::Seconds(1));
    for (const Node* node : core.Nodes()) {
      if (node->state != NodeState::kLost) {
        Heartbeat heartbeat;
        heartbeat.signals = VehicleSignals{true, true, 0.9, true, true};
        heartbeat.served = node->served;
        if (!node->free())
          heartbeat.served =
              ServedVersion{ModelOf(core, node->job), 10, -1, absl::Time(), node->job};
        EXPECT_TRUE(core.ReceiveHeartbeat(node->info.id, heartbeat).ok());
      }
    }
    core.Tick();
  }
}

// SIGTERM on a worker (a rolling update, a node drain): its heartbeat says it drains. The
// job re-forms without it at once, not a heartbeat TTL later, without charging a failure or
// the node's reliability; nothing new lands on it; once its session closes it is gone.
TEST_F(SchedulerCoreTest, ADrainingWorkerLeavesItsJobAtOnceAndTakesNoNewWork) {
  for (const char* id : {"n1", "n2", "n3"}) AddNode(id);
  const JobId job = Submit(1, 3);
  ASSERT_EQ(GetJob(job).members.size(), 3u);
  const int64_t generation = GetJob(job).generation;
  const std::string model = ModelOf(core_, job);
  for (const char* id : {"n1", "n2", "n3"}) {
    ASSERT_TRUE(core_.ReceiveHeartbeat(id, Serving(model, 40)).ok());
  }

  Heartbeat draining = Serving(model, 40);
  draining.draining = "the worker got Terminated";
  ASSERT_TRUE(core_.ReceiveHeartbeat("n2", draining).ok());
  EXPECT_THAT(GetJob(job).members, ElementsAre("n1", "n3"));
  EXPECT_EQ(GetJob(job).generation, generation + 1);
  EXPECT_EQ(GetJob(job).failures, 0);
  EXPECT_THAT(GetJob(job).events.back().what,
              HasSubstr("node n2 drained: the worker got Terminated"));
  ASSERT_TRUE(outbox_.revocations.contains("n2"));  // it stops at its next step boundary
  EXPECT_EQ(outbox_.assignments.at("n1").generation, generation + 1);
  EXPECT_EQ(core_.counters().membership_changes.at("drained"), 1);
  const Node& n2 = *core_.FindNode("n2");
  EXPECT_EQ(n2.state, NodeState::kDraining);
  EXPECT_TRUE(n2.departures.empty());  // announced: no mark against its reliability

  // Every later heartbeat says the same: no second departure, no new generation.
  ASSERT_TRUE(core_.ReceiveHeartbeat("n2", draining).ok());
  EXPECT_EQ(GetJob(job).generation, generation + 1);
  // No new work: a new job is not placed on it, inference is not routed to it.
  const JobId other = Submit(1, 1);
  EXPECT_TRUE(GetJob(other).members.empty());  // n1 and n3 are busy, n2 drains
  for (int i = 0; i < 20; ++i) {
    auto route = core_.RouteInference(model, 1, absl::Seconds(1));
    ASSERT_TRUE(route.ok()) << route.status();
    EXPECT_NE(route->node, "n2");
  }

  // Its session closes as the process exits: lost now, not after the heartbeat TTL.
  core_.NodeDisconnected("n2");
  EXPECT_EQ(core_.FindNode("n2")->state, NodeState::kLost);
  EXPECT_EQ(GetJob(job).failures, 0);
  // Its replacement (the same node id, a new process) is a node like any other.
  AddNode("n2");
  EXPECT_EQ(core_.FindNode("n2")->state, NodeState::kReady);
  EXPECT_FALSE(core_.FindNode("n2")->free());
}

TEST_F(SchedulerCoreTest, RoutingPrefersAnIdleNodeThenTheRankWhosePauseCostsLeast) {
  for (const char* id : {"n1", "n2"}) AddNode(id);
  const JobId job = Submit(2, 2);
  ASSERT_EQ(GetJob(job).members.size(), 2u);
  const std::string model = ModelOf(core_, job);
  AddNode("idle");   // it trained this model before and holds its serving version
  AddNode("fresh");  // has trained nothing: no weights to answer with
  for (const char* id : {"n1", "n2", "idle"}) {
    ASSERT_TRUE(core_.ReceiveHeartbeat(id, Serving(model, 40)).ok());
  }
  auto route = core_.RouteInference(model, 1, absl::Milliseconds(20));
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->node, "idle");
  EXPECT_FALSE(route->preempts_training);
  EXPECT_EQ(route->model, model);
  EXPECT_EQ(route->versions.min, 40 - 100);  // the serving version less the staleness bound
  Heartbeat busy = Serving(model, 40);       // a long backlog: it can no longer meet 20 ms
  busy.inference_backlog = absl::Milliseconds(50);
  ASSERT_TRUE(core_.ReceiveHeartbeat("idle", busy).ok());
  route = core_.RouteInference(model, 1, absl::Milliseconds(20));
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_TRUE(route->preempts_training);
  EXPECT_EQ(core_.FindNode(route->node)->job, job);
  EXPECT_EQ(core_.counters().inference_routed_by_model.at(model), 2);
}

TEST_F(SchedulerCoreTest, RoutingRefusesAtOnceWithTheReasonWhenNoNodeCanMeetTheDeadline) {
  EXPECT_THAT(core_.RouteInference("", 1, absl::Milliseconds(20)).status().message(),
              HasSubstr("no worker is registered"));
  AddNode("n1", NodeKind::kVehicle);  // never eligible to train: it sends no signals
  EXPECT_THAT(core_.RouteInference("", 1, absl::Milliseconds(20)).status().message(),
              HasSubstr("the request names no model"));
  const JobId job = Submit(1, 1, KindPreference::kDatacenter);  // pending: no data-center node
  const std::string model = ModelOf(core_, job);
  EXPECT_EQ(core_.RouteInference(model, 1, absl::Milliseconds(20)).status().code(),
            absl::StatusCode::kUnavailable);  // no version of it yet
  AddNode("v1", NodeKind::kVehicle);
  Heartbeat serving = Serving(model, 10);
  serving.signals.parked = true;
  ASSERT_TRUE(core_.ReceiveHeartbeat("v1", serving).ok());
  auto refused = core_.RouteInference("", 1, absl::Milliseconds(5));  // 2 x 15 ms network
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("no node can answer for model '" + model + "' within 5ms"));
  EXPECT_THAT(refused.status().message(), HasSubstr("1 too slow"));
  EXPECT_EQ(core_.counters().inference_refused.at("deadline"), 1);
}

TEST_F(SchedulerCoreTest, ADrivingVehicleIsNotRoutedToEvenWithWeightsAndTheRefusalSaysWhy) {
  const std::string model = ModelOf(core_, Submit(1, 1, KindPreference::kDatacenter));
  AddNode("v1", NodeKind::kVehicle);
  Heartbeat driving = Serving(model, 10);  // weights from the job it left when it drove off
  driving.signals = VehicleSignals{false, false, 0.9, false, true};
  ASSERT_TRUE(core_.ReceiveHeartbeat("v1", driving).ok());
  auto refused = core_.RouteInference(model, 1, absl::Seconds(1));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("1 not parked"));
  // Parked again, unplugged: it may not train, but it answers.
  Heartbeat parked = driving;
  parked.signals.parked = true;
  ASSERT_TRUE(core_.ReceiveHeartbeat("v1", parked).ok());
  auto route = core_.RouteInference(model, 1, absl::Seconds(1));
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->node, "v1");
}

TEST_F(SchedulerCoreTest, ARequestGoesOnlyToNodesHoldingAFreshVersionOfItsModel) {
  for (const char* id : {"a1", "b1"}) AddNode(id);
  const JobId a = Submit(1, 1);
  const JobId b = Submit(1, 1);
  const std::string model_a = ModelOf(core_, a);
  const std::string model_b = ModelOf(core_, b);
  const NodeId member_a = GetJob(a).members.front();
  const NodeId member_b = GetJob(b).members.front();
  AddNode("left");  // it left job a long ago and holds an old version of model a
  ASSERT_TRUE(core_.ReceiveHeartbeat("left", Serving(model_a, 100)).ok());
  ASSERT_TRUE(core_.ReceiveHeartbeat(member_a, Serving(model_a, 500)).ok());
  ASSERT_TRUE(core_.ReceiveHeartbeat(member_b, Serving(model_b, 70)).ok());
  // Two models, no default: the request must name one.
  auto unnamed = core_.RouteInference("", 1, absl::Seconds(1));
  EXPECT_EQ(unnamed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unnamed.status().message(), HasSubstr(model_a + ", " + model_b));
  EXPECT_EQ(core_.RouteInference("nobody-trains-it", 1, absl::Seconds(1)).status().code(),
            absl::StatusCode::kNotFound);
  for (int i = 0; i < 5; ++i) {
    auto to_a = core_.RouteInference(model_a, 1, absl::Seconds(1));
    ASSERT_TRUE(to_a.ok()) << to_a.status();
    EXPECT_EQ(to_a->node, member_a);  // not "left" (stale), though it is idle, nor b's member
    auto to_b = core_.RouteInference(model_b, 1, absl::Seconds(1));
    ASSERT_TRUE(to_b.ok()) << to_b.status();
    EXPECT_EQ(to_b->node, member_b);
  }
  // Loaded with a version within the bound, the idle node is preferred to the training one.
  ASSERT_TRUE(core_.ReceiveHeartbeat("left", Serving(model_a, 450)).ok());
  auto idle = core_.RouteInference(model_a, 1, absl::Seconds(1));
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_EQ(idle->node, "left");
  // Only the stale node can answer: the refusal says so.
  core_.CancelJob(a).IgnoreError();
  ASSERT_TRUE(core_.ReceiveHeartbeat("left", Serving(model_a, 100)).ok());
  ASSERT_TRUE(core_.ReceiveHeartbeat(member_a, Serving(model_b, 70)).ok());  // now serves b's
  auto stale = core_.RouteInference(model_a, 1, absl::Seconds(1));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(stale.status().message(), HasSubstr("1 version too old"));
  EXPECT_THAT(stale.status().message(), HasSubstr("serves another model"));
}

TEST_F(SchedulerCoreTest, APromotedVersionPinsRoutingAndRollbackUndoesIt) {
  AddNode("n1");
  AddNode("n2");
  const JobId job = Submit(1, 1);
  const std::string model = ModelOf(core_, job);
  const NodeId member = GetJob(job).members.front();
  const NodeId other = member == "n1" ? "n2" : "n1";
  ASSERT_TRUE(core_.ReceiveHeartbeat(other, Serving(model, 200)).ok());
  ASSERT_TRUE(core_.ReceiveHeartbeat(member, Serving(model, 300)).ok());
  EXPECT_EQ(core_.models().Find(model)->serving, 300);
  // Pinned to 200: the member, fresher, no longer answers; the node holding 200 does.
  ASSERT_TRUE(core_.PromoteModel(model, 200).ok());
  auto route = core_.RouteInference(model, 1, absl::Seconds(1));
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->node, other);
  EXPECT_EQ(route->versions.max, 200);
  ASSERT_TRUE(core_.ReceiveHeartbeat(member, Serving(model, 400)).ok());
  EXPECT_EQ(core_.models().Find(model)->serving, 200);  // the policy rests while pinned
  // Rollback undoes the promotion: the policy serves the newest again.
  ASSERT_TRUE(core_.RollbackModel(model).ok());
  EXPECT_EQ(core_.models().Find(model)->serving, 400);
  EXPECT_FALSE(core_.models().Find(model)->pinned);
  route = core_.RouteInference(model, 1, absl::Seconds(1));
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->node, member);
  ASSERT_TRUE(core_.PromoteModel(model, 200).ok());
  ASSERT_TRUE(core_.UnpinModel(model).ok());  // the newest again
  EXPECT_EQ(core_.models().Find(model)->serving, 400);
  EXPECT_EQ(core_.PromoteModel(model, 999).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(core_.PromoteModel("nope", 200).code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerCoreTest, AVersionNoNodeFitHoldsIsFetchedAndLoadedOntoTheIdleNodeItReachesSoonest) {
  const JobId job = Submit(1, 1, KindPreference::kVehicle);
  const std::string model = ModelOf(core_, job);
  NodeInfo slow = Info("dc-slow");
  slow.link_mbps = 100;
  ASSERT_TRUE(core_.RegisterNode(slow).ok());
  AddNode("dc-fast");  // 1000 Mbit/s
  AddNode("car", NodeKind::kVehicle);
  Heartbeat parked = Serving(model, 100);
  parked.signals = VehicleSignals{true, true, 0.9, true, true};
  ASSERT_TRUE(core_.ReceiveHeartbeat("car", parked).ok());
  ASSERT_EQ(GetJob(job).members, std::vector<NodeId>{"car"});
  ASSERT_TRUE(core_.PromoteModel(model, 100).ok());
  core_.Tick();
  EXPECT_TRUE(outbox_.weight_requests.empty());  // the car serves it
  // The car drives off: nobody fit to serve holds version 100. The scheduler has no copy, so
  // it asks the car, still connected, for its weights -- once.
  Heartbeat driving = parked;
  driving.signals.parked = false;
  ASSERT_TRUE(core_.ReceiveHeartbeat("car", driving).ok());
  core_.Tick();
  core_.Tick();
  ASSERT_EQ(outbox_.weight_requests.size(), 1u);
  EXPECT_EQ(outbox_.weight_requests[0].first, "car");
  EXPECT_EQ(outbox_.weight_requests[0].second.version, 100);
  EXPECT_TRUE(outbox_.loads.empty());
  // The weights come: the node on the faster link is loaded, once.
  auto weights = std::make_shared<const std::string>(940000, 'w');
  core_.WeightsArrived("car", model, 100, weights);
  core_.Tick();
  ASSERT_EQ(outbox_.loads.size(), 1u);
  ASSERT_TRUE(outbox_.loads.contains("dc-fast"));
  EXPECT_EQ(outbox_.loads["dc-fast"].version, 100);
  EXPECT_EQ(outbox_.loads["dc-fast"].weights, weights);
  EXPECT_EQ(outbox_.loads["dc-fast"].reason, "serving");
  EXPECT_EQ(core_.counters().model_loads.at("serving"), 1);
  // Loaded, it reports the version and is routed to.
  ASSERT_TRUE(core_.ReceiveHeartbeat("dc-fast", Serving(model, 100)).ok());
  core_.Tick();
  EXPECT_EQ(core_.counters().model_loads.at("serving"), 1);
  auto route = core_.RouteInference(model, 1, absl::Seconds(1));
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->node, "dc-fast");
}

// Versions the scheduler holds weights of: a request no holder can answer in time goes to an
// idle node as it loads (a cold start, its link's time in the estimate), and refusals for a
// model load one more node.
class ModelLoadTest : public SchedulerCoreTest {
 protected:
  // A vehicle job whose member "car" serves version 100, with its weights kept, and idle
  // data-center nodes: "dc-fast" (1000 Mbit/s) and "dc-slow" (10 Mbit/s).
  void SetUp() override {
    job_ = Submit(1, 1, KindPreference::kVehicle);
    model_ = ModelOf(core_, job_);
    NodeInfo slow = Info("dc-slow");
    slow.link_mbps = 10;
    ASSERT_TRUE(core_.RegisterNode(slow).ok());
    AddNode("dc-fast");
    AddNode("car", NodeKind::kVehicle);
    Heartbeat parked = Serving(model_, 100);
    parked.signals = VehicleSignals{true, true, 0.9, true, true};
    ASSERT_TRUE(core_.ReceiveHeartbeat("car", parked).ok());
    ASSERT_EQ(GetJob(job_).members, std::vector<NodeId>{"car"});
    core_.WeightsArrived("car", model_, 100, weights_);
    ASSERT_TRUE(outbox_.loads.empty());  // the car serves it: nothing to load
  }
  JobId job_;
  std::string model_;
  std::shared_ptr<const std::string> weights_ = std::make_shared<const std::string>(250000, 'w');
};

TEST_F(ModelLoadTest, ARequestNoHolderCanAnswerInTimeGoesToAnIdleNodeAsItLoads) {
  // The car is 2 x 15 ms away; dc-fast is 2 x 1 ms plus 2 ms for the weights over its link.
  auto route = core_.RouteInference(model_, 1, absl::Milliseconds(10));
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->node, "dc-fast");
  EXPECT_FALSE(route->preempts_training);
  ASSERT_TRUE(outbox_.loads.contains("dc-fast"));  // sent before the call returned
  EXPECT_EQ(outbox_.loads["dc-fast"].reason, "cold_start");
  EXPECT_EQ(outbox_.loads["dc-fast"].version, 100);
  // The next request finds it loading: no second load.
  route = core_.RouteInference(model_, 1, absl::Milliseconds(10));
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->node, "dc-fast");
  EXPECT_EQ(core_.counters().model_loads.at("cold_start"), 1);
  // dc-slow would take 200 ms for the weights: too slow for a 10 ms deadline.
  AddNode("dc-busy");
  ASSERT_TRUE(core_.ReceiveHeartbeat("dc-fast", Serving(model_, 100)).ok());
  Heartbeat backlog = Serving(model_, 100);
  backlog.inference_backlog = absl::Seconds(1);
  ASSERT_TRUE(core_.ReceiveHeartbeat("dc-fast", backlog).ok());
  route = core_.RouteInference(model_, 1, absl::Milliseconds(10));
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->node, "dc-busy");  // 1000 Mbit/s by default; dc-slow never
}

TEST_F(ModelLoadTest, RefusalsForAModelLoadOneMoreNode) {
  const int refusals = CoreConfig().demand.reclaim_at;
  for (int i = 0; i < refusals; ++i) {
    // 1 us: nobody, loaded or not, can answer; each refusal is demand for the model.
    EXPECT_FALSE(core_.RouteInference(model_, 1, absl::Microseconds(1)).ok());
  }
  EXPECT_TRUE(outbox_.loads.empty());
  core_.Tick();
  ASSERT_EQ(outbox_.loads.size(), 1u);
  ASSERT_TRUE(outbox_.loads.contains("dc-fast"));
  EXPECT_EQ(outbox_.loads["dc-fast"].reason, "demand");
  core_.Tick();  // in flight, and no refusal since: not sent twice
  EXPECT_EQ(core_.counters().model_loads.at("demand"), 1);
  // Refused again as often: one more node, the only idle one left.
  for (int i = 0; i < refusals; ++i) {
    EXPECT_FALSE(core_.RouteInference(model_, 1, absl::Microseconds(1)).ok());
  }
  core_.Tick();
  EXPECT_TRUE(outbox_.loads.contains("dc-slow"));
  EXPECT_EQ(core_.counters().model_loads.at("demand"), 2);
}

// A version published from a checkpoint, of a model no job trains: the model is declared, the
// version serves, and an idle node is loaded with it, since no node holds it.
TEST_F(SchedulerCoreTest, ACheckpointsVersionOfAModelNoJobTrainsIsLoadedAndServed) {
  AddNode("dc-1");
  const auto weights = std::make_shared<const std::string>(1000, 'c');
  ModelVersionRecord record;
  record.version = 1200;
  record.test_accuracy = 0.84;
  record.checkpoint = "/runs/a/ckpt-000000001200.bin";
  ASSERT_TRUE(core_.PublishModelVersion("imported", record, weights, /*promote=*/false).ok());
  const ServedModel* model = core_.models().Find("imported");
  ASSERT_NE(model, nullptr);
  EXPECT_TRUE(model->job.empty());
  EXPECT_EQ(model->serving, 1200);
  EXPECT_EQ(model->versions.at(1200).published, clock_.Now());
  ASSERT_TRUE(outbox_.loads.contains("dc-1"));  // loaded before the call returned
  EXPECT_EQ(outbox_.loads["dc-1"].version, 1200);
  EXPECT_EQ(outbox_.loads["dc-1"].weights, weights);
  EXPECT_EQ(outbox_.loads["dc-1"].reason, "serving");
  ASSERT_TRUE(core_.ReceiveHeartbeat("dc-1", Serving("imported", 1200)).ok());
  auto route = core_.RouteInference("imported", 1, absl::Seconds(1));
  ASSERT_TRUE(route.ok()) << route.status();
  EXPECT_EQ(route->node, "dc-1");
  // The same version again is refused; another, promoted, serves pinned.
  EXPECT_EQ(core_.PublishModelVersion("imported", record, weights, false).code(),
            absl::StatusCode::kAlreadyExists);
  record.version = 600;
  ASSERT_TRUE(core_.PublishModelVersion("imported", record, weights, /*promote=*/true).ok());
  EXPECT_EQ(model->serving, 600);
  EXPECT_TRUE(model->pinned);
}

// Two models and one idle node: the node that is one model's last holder is not loaded with
// the other (they would take it from each other in turn); a second node is.
TEST_F(SchedulerCoreTest, AModelsLastHolderIsNotTakenToServeAnother) {
  AddNode("dc-1");
  const auto weights = std::make_shared<const std::string>(1000, 'c');
  ModelVersionRecord record;
  record.version = 5;
  record.checkpoint = "a.bin";
  ASSERT_TRUE(core_.PublishModelVersion("a", record, weights, false).ok());
  ASSERT_TRUE(outbox_.loads.contains("dc-1"));
  ASSERT_TRUE(core_.ReceiveHeartbeat("dc-1", Serving("a", 5)).ok());
  outbox_.loads.clear();
  record.checkpoint = "b.bin";
  ASSERT_TRUE(core_.PublishModelVersion("b", record, weights, false).ok());
  core_.Tick();
  EXPECT_TRUE(outbox_.loads.empty());
  // Nor does a request for b take it: no node can answer b.
  EXPECT_FALSE(core_.RouteInference("b", 1, absl::Seconds(1)).ok());
  EXPECT_TRUE(outbox_.loads.empty());
  AddNode("dc-2");
  core_.Tick();
  ASSERT_TRUE(outbox_.loads.contains("dc-2"));
  EXPECT_EQ(outbox_.loads["dc-2"].model, "b");
}

TEST_F(SchedulerCoreTest, AModelIsTrainedByOneRunningJobAtATime) {
  JobSpec spec;
  spec.name = "x";
  spec.serving.model = "shared";
  ASSERT_TRUE(core_.SubmitJob(spec).ok());
  const auto second = core_.SubmitJob(spec);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("model 'shared' is trained by job j-1"));
  spec.serving.promote = "best";
  spec.serving.model = "other";
  EXPECT_THAT(core_.SubmitJob(spec).status().message(), HasSubstr("serving.promote"));
}

TEST_F(SchedulerCoreTest, InferenceDemandTakesANodeBackAndGivesItBackWithoutThrashing) {
  for (const char* id : {"n1", "n2", "n3"}) AddNode(id);
  const JobId job = Submit(2, 3);
  ASSERT_EQ(GetJob(job).members.size(), 3u);
  const int64_t generation = GetJob(job).generation;
  KeepAlive(clock_, core_, absl::Seconds(1));  // they report weights to answer with
  auto refuse_many = [&] {
    for (int i = 0; i < 25; ++i) {
      EXPECT_FALSE(core_.RouteInference(ModelOf(core_, job), 1, absl::Microseconds(1)).ok());
    }
  };
  refuse_many();
  core_.Tick();  // demand is high, but the members joined less than min_hold ago
  EXPECT_EQ(GetJob(job).members.size(), 3u);
  KeepAlive(clock_, core_, absl::Seconds(31));
  refuse_many();
  core_.Tick();
  const Job& shrunk = GetJob(job);
  ASSERT_EQ(shrunk.members.size(), 2u);
  EXPECT_EQ(shrunk.generation, generation + 1);
  EXPECT_EQ(shrunk.failures, 0);  // preemption never counts against the failure budget
  EXPECT_THAT(shrunk.events.back().what, HasSubstr("reclaimed: taken for inference"));
  EXPECT_EQ(core_.counters().preemptions.at("inference_demand"), 1);
  // The node taken gets a preemption notice with the configured budget; plain departures
  // (below) get none.
  NodeId taken;
  for (const char* id : {"n1", "n2", "n3"}) {
    if (std::find(shrunk.members.begin(), shrunk.members.end(), id) == shrunk.members.end()) {
      taken = id;
    }
  }
  ASSERT_TRUE(outbox_.revocations.contains(taken));
  EXPECT_EQ(outbox_.revocations[taken].budget, CoreConfig().demand.notice_budget);
  EXPECT_THAT(outbox_.revocations[taken].reason, HasSubstr("taken for inference"));
  refuse_many();
  core_.Tick();  // still high, but the job is at its minimum: nothing more is taken
  EXPECT_EQ(GetJob(job).members.size(), 2u);
  // Demand falls: after give_back_after without refusals the node returns to the job.
  KeepAlive(clock_, core_, absl::Seconds(31));
  EXPECT_EQ(GetJob(job).members.size(), 3u);
  EXPECT_EQ(core_.counters().given_back, 1);
  EXPECT_EQ(GetJob(job).failures, 0);
}

// Churn: a generation that failed around healthy members, and members that died.
class GenerationFailureTest : public SchedulerCoreTest {
 protected:
  void ReportFailed(const std::string& node, int64_t generation, const std::string& why) {
    Heartbeat heartbeat;
    heartbeat.generation = generation;
    heartbeat.failed_generation = generation;
    heartbeat.generation_failure = why;
    ASSERT_TRUE(core_.ReceiveHeartbeat(node, heartbeat).ok());
  }
  JobId RunningJobOn(const std::vector<std::string>& nodes) {
    for (const auto& id : nodes) AddNode(id);
    const JobId job = Submit(1, static_cast<int>(nodes.size()));
    EXPECT_EQ(GetJob(job).members.size(), nodes.size());
    return job;
  }
};

TEST_F(GenerationFailureTest, AMemberWhoseSessionClosedDepartsAtOnceAsCrashed) {
  const JobId job = RunningJobOn({"a", "b", "c"});
  const int64_t generation = GetJob(job).generation;
  core_.NodeDisconnected("b");  // on its own, a closed session may be a reconnect: no change
  EXPECT_EQ(GetJob(job).members.size(), 3u);
  ReportFailed("a", generation, "UNAVAILABLE: peer rank 1 died");
  EXPECT_THAT(GetJob(job).members, ElementsAre("a", "c"));
  EXPECT_EQ(GetJob(job).generation, generation + 1);
  EXPECT_EQ(GetJob(job).failures, 1);
  EXPECT_THAT(GetJob(job).events.back().what, HasSubstr("node b crashed: its session closed"));
  // Dead, not merely silent: it is not placed again until it registers again.
  EXPECT_EQ(core_.FindNode("b")->state, NodeState::kLost);
  ReportFailed("c", generation, "UNAVAILABLE: peer rank 1 died");  // a stale report
  EXPECT_EQ(GetJob(job).generation, generation + 1);
  AddNode("b");
  EXPECT_THAT(GetJob(job).members, ElementsAre("a", "c", "b"));
}

TEST_F(GenerationFailureTest, ASessionClosingAfterTheReportStillEndsTheMemberAtOnce) {
  const JobId job = RunningJobOn({"a", "b"});
  const int64_t generation = GetJob(job).generation;
  ReportFailed("a", generation, "UNAVAILABLE: peer rank 1 died");
  // Nobody was known dead: the same members form the next generation, no failure counted.
  EXPECT_EQ(GetJob(job).generation, generation + 1);
  EXPECT_THAT(GetJob(job).members, ElementsAre("a", "b"));
  EXPECT_EQ(GetJob(job).failures, 0);
  EXPECT_EQ(outbox_.assignments.at("b").generation, generation + 1);
  core_.NodeDisconnected("b");  // the dead member's session ends a moment later
  EXPECT_THAT(GetJob(job).members, ElementsAre("a"));
  EXPECT_EQ(GetJob(job).failures, 1);
}

TEST_F(GenerationFailureTest, GenerationsThatKeepFailingCountAgainstTheBudget) {
  const JobId job = RunningJobOn({"a", "b"});
  for (int i = 0; i < 3; ++i) {
    ReportFailed("a", GetJob(job).generation, "DEADLINE_EXCEEDED: rank 1 never came");
  }
  EXPECT_EQ(GetJob(job).failures, 1);
  EXPECT_EQ(GetJob(job).state, JobState::kRunning);
  // Progress in the current generation: the streak is over.
  Heartbeat progress;
  progress.generation = GetJob(job).generation;
  progress.progress = JobProgress{10, 0, -1, ""};
  ASSERT_TRUE(core_.ReceiveHeartbeat("a", progress).ok());
  for (int i = 0; i < 2; ++i) {
    ReportFailed("b", GetJob(job).generation, "DEADLINE_EXCEEDED: rank 0 never came");
  }
  EXPECT_EQ(GetJob(job).failures, 1);
}

TEST_F(GenerationFailureTest, ProgressFromAnOldGenerationIsIgnored) {
  AddNode("a");
  const JobId job = Submit(1, 2);
  AddNode("b");  // grows the job: generation 1
  ASSERT_EQ(GetJob(job).generation, 1);
  Heartbeat stale;
  stale.generation = GetJob(job).generation - 1;
  stale.progress = JobProgress{5000, 3, 0.9, ""};
  ASSERT_TRUE(core_.ReceiveHeartbeat("b", stale).ok());
  EXPECT_EQ(GetJob(job).progress.step, 0);
}

TEST_F(GenerationFailureTest, OldGenerationsAndEndedJobsReleaseTheirRendezvousKeys) {
  const JobId job = RunningJobOn({"a", "b"});
  EXPECT_EQ(outbox_.ended.at(job), GetJob(job).generation);
  ReportFailed("a", GetJob(job).generation, "UNAVAILABLE: peer left");
  EXPECT_EQ(outbox_.ended.at(job), GetJob(job).generation);
  ASSERT_TRUE(core_.CancelJob(job).ok());
  EXPECT_EQ(outbox_.ended.at(job), std::numeric_limits<int64_t>::max());
}

}  // namespace
}  // namespace cosched::scheduler
