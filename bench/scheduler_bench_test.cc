// File: bench/scheduler_bench_test.cc
// Tests of `cosched-bench scheduler`'s parts: the full-scan reference's placement rules on a
// small cluster, the workload generator, and both drivers end to end at a small size.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "bench/scheduler_bench_decisions.h"
#include "bench/scheduler_bench_heartbeat.h"
#include "bench/scheduler_bench_reference.h"
#include "bench/scheduler_bench_workload.h"

namespace cosched::bench {
namespace {

using scheduler::JobSpec;
using scheduler::KindPreference;
using scheduler::NodeInfo;
using scheduler::NodeKind;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr int64_t kGiB = int64_t{1} << 30;
const absl::Time kT0 = absl::UnixEpoch() + absl::Hours(1000);
constexpr absl::Duration kTtl = absl::Hours(1);

NodeInfo Node(NodeKind kind, int cpus, int64_t memory_gib, double link_mbps) {
  NodeInfo info;
  info.kind = kind;
  info.cpus = cpus;
  info.memory_bytes = memory_gib * kGiB;
  info.link_mbps = link_mbps;
  return info;
}

JobSpec Job(int min, int max, KindPreference kind = KindPreference::kAny) {
  JobSpec spec;
  spec.min_workers = min;
  spec.max_workers = max;
  spec.kind = kind;
  return spec;
}

TEST(ReferenceSchedulerTest, PlaceFiltersAndRanksLikeTheCore) {
  ReferenceScheduler ref(kTtl);
  ref.AddNode(Node(NodeKind::kVehicle, 8, 16, 200), true, kT0);        // 0
  ref.AddNode(Node(NodeKind::kDatacenter, 32, 64, 10000), true, kT0);  // 1
  ref.AddNode(Node(NodeKind::kDatacenter, 32, 64, 500), true, kT0);    // 2: slower link
  ref.AddNode(Node(NodeKind::kVehicle, 8, 16, 400), false, kT0);       // 3: ineligible
  ref.AddNode(Node(NodeKind::kDatacenter, 2, 64, 10000), true, kT0);   // 4: few cpus
  ReferenceScheduler::RefJob job;
  job.spec = Job(1, 10);
  job.spec.cpus_per_worker = 4;
  int feasible = 0;
  // Data-center nodes first, the faster link first, vehicles last.
  EXPECT_THAT(ref.Place(job, 10, &feasible), ElementsAre(1, 2, 0));
  EXPECT_EQ(feasible, 3);
  EXPECT_THAT(ref.Place(job, 1, &feasible), ElementsAre(1));
  EXPECT_EQ(feasible, 3);
  job.spec.kind = KindPreference::kVehicle;
  EXPECT_THAT(ref.Place(job, 10, &feasible), ElementsAre(0));
  job.spec.kind = KindPreference::kAny;
  job.spec.min_link_mbps = 300;
  EXPECT_THAT(ref.Place(job, 10, &feasible), ElementsAre(1, 2));
  job.spec.memory_per_worker = 32 * kGiB;
  job.spec.min_link_mbps = 0;
  EXPECT_THAT(ref.Place(job, 10, &feasible), ElementsAre(1, 2));
  EXPECT_EQ(ref.counters().scans, 5);
}

TEST(ReferenceSchedulerTest, GangWaitsForWorkersMinThenAdmitsOnArrival) {
  ReferenceScheduler ref(kTtl);
  ref.AddNode(Node(NodeKind::kVehicle, 8, 16, 200), true, kT0);
  ref.AddNode(Node(NodeKind::kVehicle, 8, 16, 200), true, kT0);
  ref.AddNode(Node(NodeKind::kVehicle, 8, 16, 200), false, kT0);  // parked, not plugged in
  const int j = ref.SubmitJob(Job(3, 4));
  EXPECT_FALSE(ref.job(j).running);
  EXPECT_EQ(ref.waiting_jobs(), 1);
  EXPECT_EQ(ref.node(0).job, -1);
  ref.Heartbeat(2, true, kT0 + absl::Seconds(1));
  ASSERT_TRUE(ref.job(j).running);
  EXPECT_THAT(ref.job(j).members, UnorderedElementsAre(0, 1, 2));
  EXPECT_EQ(ref.job(j).generation, 0);
  EXPECT_EQ(ref.waiting_jobs(), 1);  // below workers.max
  EXPECT_EQ(ref.counters().assignments, 3);
}

TEST(ReferenceSchedulerTest, DeparturesRegrowThenFallBackToPending) {
  ReferenceScheduler ref(kTtl);
  for (int i = 0; i < 4; ++i) {
    ref.AddNode(Node(NodeKind::kDatacenter, 8, 16, 1000), true, kT0 + absl::Minutes(i));
  }
  const int j = ref.SubmitJob(Job(2, 3));
  EXPECT_THAT(ref.job(j).members, ElementsAre(0, 1, 2));
  // Node 0 is silent longest: only it is lost, and node 3 replaces it.
  ref.Tick(kT0 + kTtl + absl::Seconds(30));
  EXPECT_FALSE(ref.node(0).connected);
  EXPECT_TRUE(ref.node(1).connected);
  EXPECT_THAT(ref.job(j).members, ElementsAre(1, 2, 3));
  EXPECT_EQ(ref.job(j).generation, 1);
  ref.Tick(kT0 + kTtl + absl::Minutes(1) + absl::Seconds(30));  // node 1: still at workers.min
  EXPECT_THAT(ref.job(j).members, ElementsAre(2, 3));
  EXPECT_EQ(ref.job(j).generation, 2);
  ref.Heartbeat(3, true, kT0 + kTtl + absl::Minutes(1) + absl::Seconds(40));  // stays fresh
  ref.Tick(kT0 + kTtl + absl::Minutes(2) + absl::Seconds(30));  // node 2: below workers.min
  EXPECT_FALSE(ref.job(j).running);
  EXPECT_TRUE(ref.job(j).members.empty());
  EXPECT_EQ(ref.node(3).job, -1);
  EXPECT_EQ(ref.counters().revocations, 4);        // three departures and the released node 3
  ref.Register(0, kT0 + kTtl + absl::Minutes(3));  // two fit again: re-admitted
  EXPECT_TRUE(ref.job(j).running);
  EXPECT_THAT(ref.job(j).members, UnorderedElementsAre(0, 3));
}

TEST(WorkloadTest, IsDeterministicAndEveryDepartureReturns) {
  WorkloadOptions options;
  options.nodes = 500;
  options.jobs = 50;
  options.departures = 60;
  options.seed = 7;
  absl::StatusOr<Workload> a = MakeWorkload(options);
  absl::StatusOr<Workload> b = MakeWorkload(options);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(a->events.size(), b->events.size());
  for (size_t i = 0; i < a->events.size(); ++i) {
    EXPECT_EQ(a->events[i].kind, b->events[i].kind);
    EXPECT_EQ(a->events[i].node, b->events[i].node);
    EXPECT_EQ(a->events[i].at, b->events[i].at);
  }
  EXPECT_EQ(a->first_churn_event, 50u);
  EXPECT_EQ(a->events.size(), 50u + 2 * 60u);
  std::map<int, BenchEvent::Kind> away;  // node -> how it left
  absl::Time last = absl::InfinitePast();
  for (size_t i = 0; i < a->events.size(); ++i) {
    const BenchEvent& e = a->events[i];
    EXPECT_GE(e.at, last);
    last = e.at;
    if (i < a->first_churn_event) {
      EXPECT_EQ(e.kind, BenchEvent::Kind::kSubmit);
      continue;
    }
    switch (e.kind) {
      case BenchEvent::Kind::kTickLoss:
      case BenchEvent::Kind::kIneligible:
        EXPECT_TRUE(away.emplace(e.node, e.kind).second) << "node " << e.node << " left twice";
        break;
      case BenchEvent::Kind::kRegister:
        EXPECT_EQ(away[e.node], BenchEvent::Kind::kTickLoss);
        away.erase(e.node);
        break;
      case BenchEvent::Kind::kEligible:
        EXPECT_EQ(away[e.node], BenchEvent::Kind::kIneligible);
        EXPECT_EQ(a->nodes[e.node].info.kind, NodeKind::kVehicle);
        away.erase(e.node);
        break;
      case BenchEvent::Kind::kSubmit:
        ADD_FAILURE() << "a submission in the churn";
    }
  }
  EXPECT_TRUE(away.empty());
  options.seed = 8;
  absl::StatusOr<Workload> c = MakeWorkload(options);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->jobs[0].max_workers * 1000 + c->events.back().node,
            a->jobs[0].max_workers * 1000 + a->events.back().node);
}

TEST(DecisionDriversTest, CoreAndReferenceRunTheSameEvents) {
  WorkloadOptions options;
  options.nodes = 300;
  options.jobs = 40;
  options.departures = 30;
  absl::StatusOr<Workload> w = MakeWorkload(options);
  ASSERT_TRUE(w.ok()) << w.status();
  absl::StatusOr<DecisionRun> core = RunCoreDecisions(*w);
  absl::StatusOr<DecisionRun> ref = RunReferenceDecisions(*w);
  ASSERT_TRUE(core.ok()) << core.status();
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(core->latency_ms.size(), w->events.size());
  EXPECT_EQ(ref->latency_ms.size(), w->events.size());
  EXPECT_GT(core->after_submissions.busy_nodes, 0);
  EXPECT_GT(ref->after_submissions.busy_nodes, 0);
  EXPECT_GT(core->after_submissions.running_jobs, 0);
  EXPECT_GE(core->placements, 40);
  EXPECT_GE(ref->placements, 40);
  EXPECT_GT(core->assignments, 0);
  EXPECT_GT(ref->assignments, 0);
}

TEST(HeartbeatTest, EveryHeartbeatSentIsCountedByBothServices) {
  HeartbeatOptions options;
  options.sessions = 3;
  options.duration = absl::Milliseconds(100);
  absl::StatusOr<HeartbeatRun> echo = RunEchoHeartbeats(options);
  ASSERT_TRUE(echo.ok()) << echo.status();
  EXPECT_GT(echo->sent, 0);
  EXPECT_GE(echo->absorbed, echo->sent);
  EXPECT_LE(echo->absorbed, echo->sent + echo->keepalives);
  absl::StatusOr<HeartbeatRun> core = RunCoreHeartbeats(options);
  ASSERT_TRUE(core.ok()) << core.status();
  EXPECT_GT(core->sent, 0);
  EXPECT_GE(core->absorbed, core->sent);
  EXPECT_LE(core->absorbed, core->sent + core->keepalives);
  // Coalesced heartbeats reach the core in fewer calls, never in more.
  EXPECT_GT(core->core_calls, 0);
  EXPECT_LE(core->core_calls, core->absorbed);
  EXPECT_EQ(core->sessions_lost, 0);
}

}  // namespace
}  // namespace cosched::bench
