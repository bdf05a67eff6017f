#include "worker/agent/vehicle_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

namespace cosched::worker {
namespace {

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
  EXPECT_THAT(ReadVehicleState(Write("c.yaml", "{speed: 3}\n")).status().message(),
              HasSubstr("speed"));
  EXPECT_FALSE(ReadVehicleState(::testing::TempDir() + "/missing.yaml").ok());
}

}  // namespace
}  // namespace cosched::worker
