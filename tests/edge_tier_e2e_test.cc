// File: tests/edge_tier_e2e_test.cc
// The edge tier with real processes: cosched-scheduler and cosched-worker processes in
// scheduler mode, one data-center worker and two vehicles on 20 Mbit/s links (as they
// report them). The vehicles train as replicas of their own in outer rounds with the
// scheduler's aggregator; the data-center worker speaks for the synchronous group.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "tests/scheduler_cluster.h"
#include "tests/support/http_get.h"

namespace cosched {
namespace {

// The test job with an edge section: `rounds` outer rounds of `local_steps` inner steps (for
// the slowest vehicle), int8 both ways.
std::string EdgeJob(int members, int rounds, int local_steps) {
  return TestJob(members, members, rounds) +
         absl::StrCat("  edge:\n    local_steps: ", local_steps,
                      "\n    compression: int8\n    sync_min_link_mbps: 100\n");
}

// Sums the series of `family` in a /metrics body whose labels contain every `want` pair.
double SumSeries(const std::string& body, const std::string& family,
                 const std::map<std::string, std::string>& want) {
  double total = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::StartsWith(line, family + "{") && !absl::StartsWith(line, family + " ")) continue;
    bool match = true;
    for (const auto& [label, value] : want) {
      match = match && absl::StrContains(line, absl::StrCat(label, "=\"", value, "\""));
    }
    double value = 0;
    const size_t space = line.rfind(' ');
    if (match && absl::SimpleAtod(line.substr(space + 1), &value)) total += value;
  }
  return total;
}

class EdgeTierTest : public SchedulerCluster {};

TEST_F(EdgeTierTest, VehiclesOnSlowLinksTrainInOuterRoundsAndTheJobLearns) {
  StartWorker("dc-1");
  for (const std::string vehicle : {"car-1", "car-2"}) {
    WriteVehicleState(VehicleStatePath(vehicle), true);
    StartWorker(vehicle, "vehicle", {"--link-mbps", "20"});
  }
  const std::string id = Submit(EdgeJob(3, 12, 20));
  ASSERT_FALSE(id.empty());
  const cosched::v1::JobStatus job = WaitFor(id, absl::Minutes(5), [](const auto& j) {
    return j.state() == "succeeded" || j.state() == "failed";
  });
  ASSERT_EQ(job.state(), "succeeded") << Events(job);
  // A model that learned: a broken outer step (a sign, a lost round) stays near 0.1.
  EXPECT_GE(job.test_accuracy(), 0.75) << Events(job);

  const absl::StatusOr<std::string> metrics = testing::HttpGet(metrics_port_, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  const double rounds = SumSeries(*metrics, "cosched_edge_outer_rounds_total", {});
  EXPECT_GE(rounds, 12) << *metrics;
  const double accepted =
      SumSeries(*metrics, "cosched_edge_contributions_total", {{"outcome", "accepted"}});
  // Three replicas (the group and two vehicles) take part in most rounds.
  EXPECT_GE(accepted, 2 * rounds) << *metrics;
  // What the vehicles sent is int8: about a quarter of the float32 parameters per
  // contribution (the MLP 784-128-64-10 has 109,386 parameters).
  const double from_vehicles = SumSeries(*metrics, "cosched_edge_bytes_total",
                                         {{"link_class", "vehicle"}, {"direction", "received"}});
  const double vehicle_contributions = accepted - rounds;  // minus the group's, at most one a round
  ASSERT_GT(from_vehicles, 0) << *metrics;
  EXPECT_LE(from_vehicles / vehicle_contributions, 0.3 * 109386 * 4) << *metrics;
}

}  // namespace
}  // namespace cosched
