#include "worker/agent/vehicle_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

namespace cosched::worker {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(VehicleStateTest, ReadsSignalsAndNamesBadFields) {
  auto signals = ReadVehicleState(
      Write("v.yaml", "{parked: true, plugged_in: true, battery: 0.8, unmetered_link: true}\n"));
  ASSERT_TRUE(signals.ok()) << signals.status();
  EXPECT_TRUE(signals->parked());
  EXPECT_DOUBLE_EQ(signals->battery_fraction(), 0.8);
  EXPECT_TRUE(signals->thermal_ok());
  EXPECT_THAT(ReadVehicleState(Write("b.yaml", "{battery: 7}\n")).status().message(),
              HasSubstr("battery"));
  EXPECT_THAT(ReadVehicleState(Write("n.yaml", "{battery: .nan}\n")).status().message(),
              HasSubstr("battery"));
  EXPECT_THAT(ReadVehicleState(Write("c.yaml", "{speed: 3}\n")).status().message(),
              HasSubstr("speed"));
  EXPECT_FALSE(ReadVehicleState(::testing::TempDir() + "/missing.yaml").ok());
}

TEST(VehicleStateTest, APredictedDepartureIsAnRfc3339TimeOrNothing) {
  auto signals =
      ReadVehicleState(Write("d.yaml", "{parked: true, departs_at: 2026-12-07T18:30:00Z}\n"));
  ASSERT_TRUE(signals.ok()) << signals.status();
  EXPECT_DOUBLE_EQ(signals->departs_at_unix_seconds(), 1796668200.0);
  auto unknown = ReadVehicleState(Write("e.yaml", "{parked: true}\n"));
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_EQ(unknown->departs_at_unix_seconds(), 0);
  EXPECT_THAT(ReadVehicleState(Write("f.yaml", "{departs_at: soon}\n")).status().message(),
              AllOf(HasSubstr("departs_at"), HasSubstr("'soon'")));
}

}  // namespace
}  // namespace cosched::worker
