#include "scheduler/core/vehicle_eligibility.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace cosched::scheduler {
namespace {

using ::testing::HasSubstr;

TEST(VehicleEligibilityTest, EveryFailedRequirementIsNamed) {
  EligibilityPolicy policy;
  VehicleSignals ok{true, true, 0.8, true, true};
  EXPECT_EQ(IneligibleReason(ok, policy), "");
  VehicleSignals bad{false, false, 0.3, false, false};
  EXPECT_EQ(IneligibleReason(bad, policy),
            "not parked; not plugged in; battery 0.30 below 0.50; metered link; too hot");
  policy.require_unmetered_link = false;
  policy.min_battery_fraction = 0.2;
  EXPECT_EQ(IneligibleReason(VehicleSignals{true, true, 0.3, false, true}, policy), "");
}

// A vehicle's signals are untrusted input: a battery reading that is not a fraction (NaN
// compares false with the threshold) makes it ineligible, with the reading named.
TEST(VehicleEligibilityTest, ABatteryReadingThatIsNoFractionIsIneligible) {
  const EligibilityPolicy policy;
  for (double reading : {std::nan(""), std::numeric_limits<double>::infinity(), -0.5, 1.5}) {
    EXPECT_THAT(IneligibleReason(VehicleSignals{true, true, reading, true, true}, policy),
                HasSubstr("is not a fraction in [0, 1]"))
        << reading;
  }
  // Nothing reported at all (a heartbeat without signals) is not eligible either.
  EXPECT_NE(IneligibleReason(VehicleSignals{}, policy), "");
}

TEST(VehicleEligibilityTest, AParkedCoolCarServesUnpluggedAndOnLowBatteryButNotWhileDriving) {
  EligibilityPolicy policy;
  // Unplugged, low battery, metered link: may not train, may still answer.
  EXPECT_EQ(NotServingReason(VehicleSignals{true, false, 0.1, false, true}, policy), "");
  EXPECT_EQ(NotServingReason(VehicleSignals{false, true, 0.9, true, true}, policy), "not parked");
  EXPECT_EQ(NotServingReason(VehicleSignals{true, true, 0.9, true, false}, policy), "too hot");
  policy.require_parked = false;  // a test fleet's relaxation holds for serving too
  EXPECT_EQ(NotServingReason(VehicleSignals{false, true, 0.9, true, true}, policy), "");
}

TEST(VehicleEligibilityTest, ParsesThresholdsAndRejectsBadOnes) {
  auto config =
      ConfigNode::LoadString("min_battery: 0.7\nrequire_unmetered_link: false\n", "vehicle.yaml");
  ASSERT_TRUE(config.ok());
  auto policy = ParseEligibilityPolicy(*config);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_DOUBLE_EQ(policy->min_battery_fraction, 0.7);
  EXPECT_FALSE(policy->require_unmetered_link);
  auto bad = ConfigNode::LoadString("min_battery: 1.5\n", "vehicle.yaml");
  ASSERT_TRUE(bad.ok());
  EXPECT_THAT(ParseEligibilityPolicy(*bad).status().message(), HasSubstr("min_battery"));
  auto unknown = ConfigNode::LoadString("min_range_km: 40\n", "vehicle.yaml");
  ASSERT_TRUE(unknown.ok());
  EXPECT_THAT(ParseEligibilityPolicy(*unknown).status().message(), HasSubstr("min_range_km"));
}

}  // namespace
}  // namespace cosched::scheduler
