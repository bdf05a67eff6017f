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

// Empty when a vehicle may answer inference requests on its own chip; otherwise why not:
// "not parked" (a driving car's compute and link belong to driving) or "too hot". Plugged in
// or not, battery and link do not matter here: answering costs a tiny fraction of training.
// The policy's relaxations apply as they do to IneligibleReason.
std::string NotServingReason(const VehicleSignals& signals, const EligibilityPolicy& policy);

// Reads the `vehicle:` section of configs/scheduler.yaml.
absl::StatusOr<EligibilityPolicy> ParseEligibilityPolicy(const ConfigNode& node);

}  // namespace cosched::scheduler
