#include "tools/cosched_up/fleet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

namespace cosched::tools {
namespace {

using ::testing::HasSubstr;

TEST(FleetTest, TheShippedScriptLoadsInTimeOrderWithAStateAtZeroForEveryVehicle) {
  auto fleet = LoadFleetScript(std::string(COSCHED_SOURCE_DIR) + "/configs/fleet/demo.yaml");
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_EQ(fleet->vehicles.size(), 3u);
  for (size_t i = 1; i < fleet->events.size(); ++i) {
    EXPECT_LE(fleet->events[i - 1].at, fleet->events[i].at);
  }
  // car-3's battery event keeps it parked and plugged in (fields carry over).
  const FleetEvent& charged = fleet->events.back();
  EXPECT_EQ(fleet->vehicles[charged.vehicle], "car-1");  // the last event: leaves at 40 s
  bool found = false;
  for (const FleetEvent& e : fleet->events) {
    if (fleet->vehicles[e.vehicle] == "car-3" && e.at == absl::Seconds(30)) {
      found = true;
      EXPECT_TRUE(e.state.parked);
      EXPECT_DOUBLE_EQ(e.state.battery, 0.6);
    }
  }
  EXPECT_TRUE(found);
}

TEST(FleetTest, BadScriptsNameTheField) {
  const std::string path = ::testing::TempDir() + "/fleet.yaml";
  std::ofstream(path) << "fleet:\n  vehicles:\n    - id: v\n      events: [{at: 1s, battery: 3}]\n";
  EXPECT_THAT(LoadFleetScript(path).status().message(), HasSubstr("battery"));
  std::ofstream(path) << "fleet:\n  vehicles: []\n";
  EXPECT_THAT(LoadFleetScript(path).status().message(), HasSubstr("lists no vehicle"));
}

// Sessions in the ACN format (the real trace lives outside the repository, under
// ../shared/data/traces/ev_charging/): one space busy all morning, one with two visits.
constexpr char kAcnSample[] = R"([
  {"connectionTime": "Mon, 03 May 2021 13:00:00 GMT", "disconnectTime": "Mon, 03 May 2021 16:00:00 GMT", "spaceID": "A"},
  {"connectionTime": "Mon, 03 May 2021 14:20:00 GMT", "disconnectTime": "Mon, 03 May 2021 14:40:00 GMT", "spaceID": "B"},
  {"connectionTime": "Mon, 03 May 2021 15:00:00 GMT", "disconnectTime": "Mon, 03 May 2021 15:30:00 GMT", "spaceID": "B"},
  {"connectionTime": "Sat, 01 May 2021 14:00:00 GMT", "disconnectTime": "Sat, 01 May 2021 15:00:00 GMT", "spaceID": "C"}
])";

TEST(FleetTest, AcnSessionsBecomeArrivalsAndDeparturesFromTheFirstWeekdayMorning) {
  const std::string path = ::testing::TempDir() + "/acn_sample.json";
  std::ofstream(path) << kAcnSample;
  // 60x: one real minute is an hour of the trace; the run spans 3 minutes from 14:00 GMT on
  // Monday (Saturday's session is skipped).
  auto fleet = LoadAcnTrace(path, 2, 60, absl::Minutes(3));
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_EQ(fleet->vehicles.size(), 2u);  // B (two sessions) is busier than A
  int car1_arrivals = 0, car1_departures = 0;
  for (const FleetEvent& e : fleet->events) {
    if (e.vehicle != 0 || e.at == absl::ZeroDuration()) continue;
    (e.state.parked ? car1_arrivals : car1_departures) += 1;
  }
  EXPECT_EQ(car1_arrivals, 2);
  EXPECT_EQ(car1_departures, 2);
  // car-2 (space A) is already plugged in at the start and leaves at 16:00 = 2 minutes in.
  const FleetEvent& leaves = fleet->events.back();
  EXPECT_EQ(fleet->vehicles[leaves.vehicle], "car-2");
  EXPECT_EQ(leaves.at, absl::Minutes(2));
  EXPECT_FALSE(leaves.state.parked);
  EXPECT_THAT(LoadAcnTrace(path, 5, 60, absl::Minutes(3)).status().message(),
              HasSubstr("only 2 spaces"));
  EXPECT_THAT(VehicleStateYaml(VehicleState{true, true, 0.8, true}),
              HasSubstr("parked: true, plugged_in: true, battery: 0.80"));
  const std::string bad = ::testing::TempDir() + "/acn_bad.json";
  std::ofstream(bad) << "[{\"connectionTime\": \"yesterday\", \"disconnectTime\": \"now\"}]";
  EXPECT_THAT(LoadAcnTrace(bad, 1, 1200, absl::Minutes(1)).status().message(),
              HasSubstr("bad time 'yesterday'"));
}

}  // namespace
}  // namespace cosched::tools
