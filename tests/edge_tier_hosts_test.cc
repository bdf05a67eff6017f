// File: tests/edge_tier_hosts_test.cc
// The edge tier across emulated hosts (tests/cross_host_cluster.h), real processes: the
// scheduler on "sched", data-center workers on "dc1" and "dc2" (half a core each), vehicles on
// "car1".."car4" (a quarter of a core each) behind 20 Mbit/s links. Every vehicle's firewall
// drops inbound TCP connection attempts (SYN without ACK) and counts them: a vehicle only ever
// dials out, to the scheduler.
//
// The job (fashion-mlp's model and optimizer with an edge section) trains while the fleet
// changes: car1 is killed with SIGKILL mid-round, car2 turns ineligible (it drives off), and
// car4 arrives. The data-center members train synchronously as one replica, each vehicle as
// a replica of its own in outer rounds. It must reach 0.88 test accuracy, with the vehicles'
// firewalls having seen no connection attempt at all.
//
// Needs root: without it the test skips with the reason, and fails under CI (CI set).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tests/cross_host_cluster.h"
#include "tests/support/run_command.h"

namespace cosched {
namespace {

using ::cosched::testing::RunCommand;
using ::testing::Contains;
using ::testing::Not;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr int kCar3 = 5;
constexpr int kCar4 = 6;

// fashion-mlp's model and optimizer; vehicles (below 100 Mbit/s) in the edge tier.
constexpr char kEdgeJob[] = R"(job:
  name: edge-hosts
  seed: 42
  model: {hidden_sizes: [256, 128]}
  optimizer: {name: adam, learning_rate: 0.001, schedule: linear}
  training: {global_batch: 64, micro_batch: 16, epochs: 6, shard_size: 64, log_every_steps: 50}
  data: {dir: /usr/share/datasets/fashion-mnist}
  checkpoint: {dir: ""}
  workers: {min: 2, max: 8}
  collectives: {timeout: 10s}
  edge: {local_steps: 30, compression: auto, sync_min_link_mbps: 100}
)";

// Drops and counts inbound connection attempts on the host's own link.
constexpr char kVehicleFirewall[] = R"(table inet cosched_vehicle {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "eth0" tcp flags & (syn | ack) == syn counter drop
  }
}
)";

class EdgeTierHostsTest : public CrossHostCluster {
 protected:
  void InstallFirewall(int host) {
    const std::string rules = absl::StrCat(dir_.path(), "/firewall-", hosts_->name(host), ".nft");
    std::ofstream(rules) << kVehicleFirewall;
    absl::StatusOr<std::string> out =
        RunCommand({"ip", "netns", "exec", hosts_->netns(host), "nft", "-f", rules});
    ASSERT_TRUE(out.ok()) << out.status();
  }
  // Connection attempts the host's firewall dropped.
  int64_t DroppedAttempts(int host) {
    absl::StatusOr<std::string> listing =
        RunCommand({"ip", "netns", "exec", hosts_->netns(host), "nft", "list", "table", "inet",
                    "cosched_vehicle"});
    EXPECT_TRUE(listing.ok()) << listing.status();
    if (!listing.ok()) return -1;
    const size_t at = listing->find("counter packets ");
    int64_t packets = -1;
    if (at != std::string::npos) {
      const size_t begin = at + std::string("counter packets ").size();
      if (!absl::SimpleAtoi(listing->substr(begin, listing->find(' ', begin) - begin), &packets)) {
        packets = -1;  // a counter that does not parse: the expectation below says so
      }
    }
    EXPECT_GE(packets, 0) << *listing;
    return packets;
  }
  std::string VehicleState(int host) const {
    return absl::StrCat(dir_.path(), "/", hosts_->name(host), ".yaml");
  }
  void StartVehicle(int host) {
    ASSERT_NO_FATAL_FAILURE(InstallFirewall(host));
    ASSERT_NO_FATAL_FAILURE(StartWorker(host));
  }
};

TEST_F(EdgeTierHostsTest, VehiclesThatOnlyDialOutTrainTheModelThroughChurn) {
  ASSERT_NO_FATAL_FAILURE(CreateHosts({
      {.name = "sched"},
      {.name = "dc1", .cpu_fraction = 0.5},
      {.name = "dc2", .cpu_fraction = 0.5},
      {.name = "car1", .link_mbit = kVehicleLinkMbit, .cpu_fraction = 0.25},
      {.name = "car2", .link_mbit = kVehicleLinkMbit, .cpu_fraction = 0.25},
      {.name = "car3", .link_mbit = kVehicleLinkMbit, .cpu_fraction = 0.25},
      {.name = "car4", .link_mbit = kVehicleLinkMbit, .cpu_fraction = 0.25},
  }));
  ASSERT_NO_FATAL_FAILURE(StartScheduler(absl::StrCat(hosts_->address(kSched), ":0")));
  for (const int host : {kDc1, kDc2}) ASSERT_NO_FATAL_FAILURE(StartWorker(host));
  for (const int host : {kCar1, kCar2, kCar3}) ASSERT_NO_FATAL_FAILURE(StartVehicle(host));
  const std::string id = Submit(kEdgeJob);
  ASSERT_FALSE(id.empty());

  // All five train, the vehicles in the edge tier (each joined the rounds: the data-center
  // replica may close rounds alone while the vehicles still load), and rounds go by.
  auto job = WaitFor(id, absl::Minutes(2), [](const auto& j) {
    return (j.edge_members_size() == 3 && j.edge().codecs_size() == 4 &&
            j.edge().outer_rounds() >= 3) ||
           Finished(j);
  });
  ASSERT_EQ(job.state(), "running") << Events(job);
  ASSERT_EQ(job.members_size(), 5) << Events(job);
  EXPECT_THAT(job.edge_members(), Not(Contains("dc1")));
  // compression auto: the data-center replica's tensors go uncompressed, the 20 Mbit/s
  // vehicles' in int8.
  const std::map<std::string, std::string> codecs(job.edge().codecs().begin(),
                                                  job.edge().codecs().end());
  EXPECT_THAT(codecs, UnorderedElementsAre(Pair("datacenter", "none"), Pair("car1", "int8"),
                                           Pair("car2", "int8"), Pair("car3", "int8")));

  // car1 dies mid-round; car2 drives off; car4 arrives.
  workers_["car1"]->Kill(SIGKILL);
  WriteVehicleState(VehicleState(kCar2), false);
  ASSERT_NO_FATAL_FAILURE(StartVehicle(kCar4));
  job = WaitFor(id, absl::Minutes(2), [](const auto& j) {
    bool has_car4 = false, has_car1 = false, has_car2 = false;
    for (const std::string& member : j.edge_members()) {
      has_car4 |= member == "car4";
      has_car1 |= member == "car1";
      has_car2 |= member == "car2";
    }
    return (has_car4 && !has_car1 && !has_car2) || Finished(j);
  });
  ASSERT_EQ(job.state(), "running") << Events(job);
  const int64_t rounds_at_churn = job.edge().outer_rounds();

  job = WaitFor(id, absl::Minutes(8), Finished);
  ASSERT_EQ(job.state(), "succeeded") << Events(job);
  EXPECT_GE(job.test_accuracy(), 0.88) << Events(job);
  // Rounds closed after the churn too, and the vehicles' contributions counted.
  EXPECT_GT(job.edge().outer_rounds(), rounds_at_churn) << job.edge().DebugString();
  EXPECT_GT(job.edge().contributions_accepted(), job.edge().outer_rounds())
      << job.edge().DebugString();
  EXPECT_EQ(job.failures(), 0) << Events(job);  // vehicles leaving never count

  // Nothing ever tried to dial into a vehicle.
  for (const int host : {kCar1, kCar2, kCar3, kCar4}) {
    EXPECT_EQ(DroppedAttempts(host), 0) << hosts_->name(host);
  }
}

}  // namespace
}  // namespace cosched
