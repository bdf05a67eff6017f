// File: scheduler/service/heartbeat_mailbox_test.cc
// Coalescing heartbeats: the merge keeps what the core must see (the newest state, the
// one-off facts job_finished and failure), the mailbox asks for one drain at a time, and a
// core fed the merged heartbeat ends where the uncoalesced stream would have left it.
#include "scheduler/service/heartbeat_mailbox.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "common/clock.h"

namespace cosched::scheduler {
namespace {

Heartbeat WithProgress(int64_t step, const std::string& checkpoint = "") {
  Heartbeat heartbeat;
  heartbeat.progress = JobProgress{step, 1, 0.5, checkpoint};
  return heartbeat;
}

TEST(MergeHeartbeatsTest, NodeStateComesFromTheNewest) {
  Heartbeat older;
  older.signals = VehicleSignals{true, true, 0.9, true, true};
  older.inference_backlog = absl::Seconds(2);
  Heartbeat newer;
  newer.signals = VehicleSignals{false, false, 0.5, false, true};  // driving away
  newer.inference_backlog = absl::ZeroDuration();
  newer.served = ServedVersion{"mlp", 50, -1, absl::Time(), "j-1"};
  const Heartbeat merged = MergeHeartbeats(older, newer);
  EXPECT_FALSE(merged.signals.parked);
  EXPECT_FALSE(merged.signals.plugged_in);
  EXPECT_DOUBLE_EQ(merged.signals.battery_fraction, 0.5);
  EXPECT_EQ(merged.inference_backlog, absl::ZeroDuration());
  ASSERT_TRUE(merged.served.has_value());
  EXPECT_EQ(merged.served->version, 50);
}

TEST(MergeHeartbeatsTest, AnUnknownServiceTimeKeepsTheLastKnownOne) {
  Heartbeat older;
  older.service_per_image = absl::Milliseconds(3);
  Heartbeat newer;  // 0: not measured
  EXPECT_EQ(MergeHeartbeats(older, newer).service_per_image, absl::Milliseconds(3));
  newer.service_per_image = absl::Milliseconds(5);
  EXPECT_EQ(MergeHeartbeats(older, newer).service_per_image, absl::Milliseconds(5));
}

TEST(MergeHeartbeatsTest, ProgressKeepsTheFurthestStep) {
  EXPECT_EQ(MergeHeartbeats(WithProgress(10), WithProgress(12)).progress->step, 12);
  EXPECT_EQ(MergeHeartbeats(WithProgress(12), WithProgress(10)).progress->step, 12);
  // A heartbeat without progress (the worker stopped training) does not erase it.
  EXPECT_EQ(MergeHeartbeats(WithProgress(10), Heartbeat()).progress->step, 10);
  EXPECT_FALSE(MergeHeartbeats(Heartbeat(), Heartbeat()).progress.has_value());
  // Equal steps: the newer report (a checkpoint written at that step, say).
  EXPECT_EQ(MergeHeartbeats(WithProgress(10), WithProgress(10, "/ckpt")).progress->checkpoint_dir,
            "/ckpt");
}

TEST(MergeHeartbeatsTest, JobFinishedIsNotOverwrittenByALaterPlainHeartbeat) {
  Heartbeat done = WithProgress(500, "/ckpt");
  done.job_finished = true;
  const Heartbeat merged = MergeHeartbeats(done, Heartbeat());
  EXPECT_TRUE(merged.job_finished);
  ASSERT_TRUE(merged.progress.has_value());
  EXPECT_EQ(merged.progress->step, 500);
  // A plain heartbeat merged with a later finish keeps the finish too.
  EXPECT_TRUE(MergeHeartbeats(WithProgress(490), done).job_finished);
}

TEST(MergeHeartbeatsTest, TheFirstFailureIsKeptAndLaterJobFactsDropped) {
  Heartbeat crashed = WithProgress(40);
  crashed.failure = "allreduce: peer reset";
  Heartbeat later = WithProgress(41);
  later.failure = "allreduce: timeout";
  later.job_finished = true;
  later.served = ServedVersion{"mlp", 40, -1, absl::Time(), "j-1"};
  const Heartbeat merged = MergeHeartbeats(crashed, later);
  EXPECT_EQ(merged.failure, "allreduce: peer reset");
  EXPECT_FALSE(merged.job_finished);  // reported after the failure, about the same job
  EXPECT_EQ(merged.progress->step, 40);
  EXPECT_TRUE(merged.served.has_value());  // node state is still the newest
  // A plain heartbeat does not erase the failure.
  EXPECT_EQ(MergeHeartbeats(crashed, Heartbeat()).failure, "allreduce: peer reset");
  // A finish followed by a failure report stays a finish.
  Heartbeat done;
  done.job_finished = true;
  const Heartbeat finished = MergeHeartbeats(done, crashed);
  EXPECT_TRUE(finished.job_finished);
  EXPECT_TRUE(finished.failure.empty());
}

TEST(HeartbeatMailboxTest, AsksForOneDrainUntilItIsTaken) {
  HeartbeatMailbox mailbox;
  EXPECT_FALSE(mailbox.Take().has_value());
  EXPECT_TRUE(mailbox.Put(WithProgress(1)));   // post a drain
  EXPECT_FALSE(mailbox.Put(WithProgress(2)));  // the queued drain carries it
  EXPECT_FALSE(mailbox.Put(WithProgress(3)));
  std::optional<HeartbeatMailbox::Batch> batch = mailbox.Take();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->count, 3);
  EXPECT_EQ(batch->heartbeat.progress->step, 3);
  EXPECT_TRUE(mailbox.Put(WithProgress(4)));  // the drain ran: a new one is needed
  batch = mailbox.Take();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->count, 1);
  EXPECT_FALSE(mailbox.Take().has_value());
}

class NullOutbox : public CoreOutbox {
 public:
  void Assign(const NodeId&, const Assignment&) override {}
  void Revoke(const NodeId&, const Revocation&) override {}
};

// A core with one data-center node running a one-worker job.
class CoalescedCoreTest : public ::testing::Test {
 protected:
  CoalescedCoreTest()
      : clock_(absl::UnixEpoch() + absl::Hours(1)),
        core_(&clock_, CoreConfig(), Placer(DefaultPlacementProfile()), &outbox_) {
    NodeInfo info;
    info.id = "n1";
    info.cpus = 2;
    info.link_mbps = 1000;
    EXPECT_TRUE(core_.RegisterNode(info).ok());
    JobSpec spec;
    spec.name = "fashion";
    spec.max_failures = 3;
    absl::StatusOr<JobId> id = core_.SubmitJob(spec);
    EXPECT_TRUE(id.ok()) << id.status();
    job_ = *id;
    EXPECT_EQ(core_.FindJob(job_)->state, JobState::kRunning);
  }
  // What one drain task does.
  void Drain(HeartbeatMailbox& mailbox) {
    std::optional<HeartbeatMailbox::Batch> batch = mailbox.Take();
    ASSERT_TRUE(batch.has_value());
    ASSERT_TRUE(core_.ReceiveHeartbeat("n1", batch->heartbeat).ok());
  }

  SimClock clock_;
  NullOutbox outbox_;
  SchedulerCore core_;
  JobId job_;
};

TEST_F(CoalescedCoreTest, AFinishFollowedByPlainHeartbeatsStillFinishesTheJob) {
  HeartbeatMailbox mailbox;
  Heartbeat done = WithProgress(500, "/ckpt");
  done.job_finished = true;
  mailbox.Put(done);
  for (int i = 0; i < 3; ++i) mailbox.Put(Heartbeat());
  Drain(mailbox);
  const Job& job = *core_.FindJob(job_);
  EXPECT_EQ(job.state, JobState::kSucceeded);
  EXPECT_EQ(job.progress.step, 500);
}

TEST_F(CoalescedCoreTest, ARepeatedFailureCountsOnce) {
  HeartbeatMailbox mailbox;
  Heartbeat crashed = WithProgress(40);
  crashed.failure = "allreduce: peer reset";
  // The worker repeats its failure until it hears the revocation.
  for (int i = 0; i < 3; ++i) mailbox.Put(crashed);
  mailbox.Put(Heartbeat());
  Drain(mailbox);
  const Job& job = *core_.FindJob(job_);
  EXPECT_EQ(job.failures, 1);
  EXPECT_EQ(job.state, JobState::kRunning);  // n1 is free again and rejoins at once
}

}  // namespace
}  // namespace cosched::scheduler
