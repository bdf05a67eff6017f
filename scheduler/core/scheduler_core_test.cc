#include "scheduler/core/scheduler_core.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
  std::map<NodeId, Assignment> assignments;
  std::map<NodeId, Revocation> revocations;
  int assign_messages = 0;
};

class SchedulerCoreTest : public ::testing::Test {
 protected:
  SchedulerCoreTest()
      : clock_(absl::UnixEpoch() + absl::Hours(100)),
        core_(&clock_, CoreConfig(), Placer(DefaultPlacementProfile()), &outbox_) {}

  void AddNode(const std::string& id, NodeKind kind = NodeKind::kDatacenter,
               const std::string& zone = "z") {
    NodeInfo info;
    info.id = id;
    info.kind = kind;
    info.cpus = 2;
    info.link_mbps = 1000;
    info.zone = zone;
    ASSERT_TRUE(core_.RegisterNode(info).ok());
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
    auto id = core_.SubmitJob(spec);
    EXPECT_TRUE(id.ok()) << id.status();
    return *id;
  }
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
  SchedulerCore core_;
};

TEST_F(SchedulerCoreTest, GangAdmissionWaitsForMinWorkersThenGrowsTowardMax) {
  AddNode("n1");
  const JobId job = Submit(2, 3);
  EXPECT_EQ(GetJob(job).state, JobState::kPending);
  EXPECT_THAT(GetJob(job).waiting_reason, HasSubstr("needs 2 nodes, 1 fit"));
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
  EXPECT_THAT(GetJob(job).waiting_reason, HasSubstr("ineligible (not parked"));

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
  EXPECT_THAT(GetJob(job).waiting_reason, HasSubstr("job wants datacenter nodes"));
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
  EXPECT_THAT(GetJob(big).waiting_reason, HasSubstr("3 busy"));
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

}  // namespace
}  // namespace cosched::scheduler
