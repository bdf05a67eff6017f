// File: scheduler/core/scheduler_core_random_test.cc
// Drives the core with seeded random calls (registrations, heartbeats that make vehicles
// eligible or not, expiries, submissions, cancellations, inference routing) and checks after
// every call what must always hold, whatever shortcuts the core takes to be fast:
//  - its index of available nodes agrees with the nodes (CheckInvariants);
//  - it is settled: no pending job could start and no running job below workers.max could
//    grow on the nodes available now (the core skips jobs that found no room until a node
//    becomes available; this checks that it never skips one that would now fit).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "scheduler/core/scheduler_core.h"

namespace cosched::scheduler {
namespace {

class NullOutbox : public CoreOutbox {
 public:
  void Assign(const NodeId&, const Assignment&) override {}
  void Revoke(const NodeId&, const Revocation&) override {}
};

class RandomDriver {
 public:
  explicit RandomDriver(uint32_t seed)
      : rng_(seed),
        clock_(absl::UnixEpoch() + absl::Hours(1)),
        placer_(DefaultPlacementProfile()),
        core_(&clock_, Config(), Placer(DefaultPlacementProfile()), &outbox_) {}

  static CoreConfig Config() {
    CoreConfig config;
    config.demand.reclaim_at = 3;  // reclaim and give-back happen within a short run
    config.demand.min_hold = absl::Seconds(2);
    config.demand.reclaim_interval = absl::Seconds(1);
    config.demand.give_back_after = absl::Seconds(4);
    return config;
  }

  // One random call; returns what it did (for the failure message).
  std::string Step() {
    switch (Pick(0, 9)) {
      case 0:
      case 1:
        return Register();
      case 2:
      case 3:
      case 4:
        return BeatSomeone();
      case 5:
        return Submit();
      case 6:
        return Cancel();
      case 7:
        return Route();
      default:
        clock_.Advance(absl::Milliseconds(Pick(100, 2500)));
        core_.Tick();
        return "tick";
    }
  }

  // Empty when the core is settled; otherwise which job could have been placed.
  std::string Unsettled() const {
    std::vector<const Node*> available;
    for (const Node* node : core_.Nodes()) {
      if (node->available() && !node->reserved_for_inference) available.push_back(node);
    }
    for (const Job* job : core_.Jobs()) {
      const bool pending = job->state == JobState::kPending;
      const int room = job->spec.max_workers - static_cast<int>(job->members.size());
      if (!pending && (job->state != JobState::kRunning || room <= 0)) continue;
      PlacementRequest request;
      request.spec = &job->spec;
      request.job = job->id;
      request.now = clock_.Now();
      std::vector<const Node*> members;
      for (const NodeId& member : job->members) members.push_back(core_.FindNode(member));
      request.SetMembers(std::move(members));
      const int feasible = placer_.Place(request, available, room).feasible;
      if (pending ? feasible >= job->spec.min_workers : feasible > 0) {
        return absl::StrCat("job ", job->id, (pending ? " is pending" : " could grow"), " but ",
                            feasible, " available nodes fit it");
      }
    }
    return "";
  }

  const SchedulerCore& core() const { return core_; }

 private:
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  NodeId AnyNode() { return absl::StrCat("n", Pick(0, 29)); }

  std::string Register() {
    NodeInfo info;
    info.id = AnyNode();
    info.kind = info.id < "n2" ? NodeKind::kDatacenter : NodeKind::kVehicle;
    info.cpus = Pick(1, 8);
    info.memory_bytes = int64_t{Pick(1, 16)} << 30;
    info.link_mbps = Pick(1, 10) * 50;
    info.zone = absl::StrCat("z", Pick(0, 3));
    (void)core_.RegisterNode(info);
    return absl::StrCat("register ", info.id);
  }

  std::string BeatSomeone() {
    const NodeId id = AnyNode();
    Heartbeat heartbeat;
    heartbeat.signals =
        VehicleSignals{Pick(0, 4) > 0, Pick(0, 4) > 0, Pick(0, 4) > 0 ? 0.9 : 0.1, true, true};
    heartbeat.served = ServedVersion{AnyModel(), Pick(0, 100), -1, absl::Time(), ""};
    (void)core_.ReceiveHeartbeat(id, heartbeat);  // NotFound for unknown or lost nodes
    return absl::StrCat("heartbeat ", id);
  }

  std::string Submit() {
    JobSpec spec;
    spec.min_workers = Pick(1, 4);
    spec.max_workers = spec.min_workers + Pick(0, 4);
    spec.kind = static_cast<KindPreference>(Pick(0, 2));
    spec.cpus_per_worker = Pick(1, 6);
    spec.min_link_mbps = Pick(0, 1) * 200;
    spec.priority = Pick(0, 3);
    spec.max_failures = 20;
    spec.serving.model = absl::StrCat("m", submitted_);
    spec.serving.max_staleness_steps = Pick(0, 50);
    auto id = core_.SubmitJob(spec);
    EXPECT_TRUE(id.ok()) << id.status();
    ++submitted_;
    return absl::StrCat("submit ", id.ok() ? *id : "?");
  }

  std::string Cancel() {
    if (submitted_ == 0) return "no job to cancel";
    const JobId id = absl::StrCat("j-", Pick(1, submitted_));
    (void)core_.CancelJob(id);  // FailedPrecondition when it already ended
    return absl::StrCat("cancel ", id);
  }

  // A model some job trains (or trained), or one nobody does.
  std::string AnyModel() { return absl::StrCat("m", Pick(0, submitted_)); }

  std::string Route() {
    (void)core_.RouteInference(AnyModel(), 1, absl::Milliseconds(Pick(1, 40)));
    return "route inference";
  }

  std::mt19937 rng_;
  SimClock clock_;
  NullOutbox outbox_;
  Placer placer_;
  SchedulerCore core_;
  int submitted_ = 0;
};

TEST(SchedulerCoreRandomTest, EveryCallLeavesTheIndexTrueAndTheQueueSettled) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    RandomDriver driver(seed);
    for (int step = 0; step < 400; ++step) {
      const std::string what = driver.Step();
      const absl::Status invariants = driver.core().CheckInvariants();
      ASSERT_TRUE(invariants.ok())
          << "seed " << seed << " step " << step << " (" << what << "): " << invariants;
      const std::string unsettled = driver.Unsettled();
      ASSERT_EQ(unsettled, "") << "seed " << seed << " step " << step << " (" << what << ")";
    }
  }
}

}  // namespace
}  // namespace cosched::scheduler
