// File: scheduler/core/vehicle_eligibility.h
// When a vehicle may train: parked, plugged in, battery at or above a threshold, on an
// unmetered link and thermally fine. Each requirement can be relaxed in the config (a depot
// with wired links, a test fleet).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "scheduler/core/types.h"

namespace cosched::scheduler {

struct EligibilityPolicy {
  bool require_parked = true;
  bool require_plugged_in = true;
  double min_battery_fraction = 0.5;
  bool require_unmetered_link = true;
  bool require_thermal_ok = true;
};

// Empty when eligible; otherwise every requirement that fails, e.g.
// "not plugged in; battery 0.31 below 0.50".
std::string IneligibleReason(const VehicleSignals& signals, const EligibilityPolicy& policy);

// Reads the `vehicle:` section of configs/scheduler.yaml.
absl::StatusOr<EligibilityPolicy> ParseEligibilityPolicy(const ConfigNode& node);

}  // namespace cosched::scheduler
