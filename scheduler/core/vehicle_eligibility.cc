// File: scheduler/core/vehicle_eligibility.cc
#include "scheduler/core/vehicle_eligibility.h"

#include <cmath>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace cosched::scheduler {

std::string IneligibleReason(const VehicleSignals& signals, const EligibilityPolicy& policy) {
  std::vector<std::string> failures;
  if (policy.require_parked && !signals.parked) failures.push_back("not parked");
  if (policy.require_plugged_in && !signals.plugged_in) failures.push_back("not plugged in");
  // Signals come from the vehicle and are not trusted: a reading that is not a fraction (NaN
  // compares false with everything, so it would pass the threshold) makes it ineligible.
  if (!std::isfinite(signals.battery_fraction) || signals.battery_fraction < 0 ||
      signals.battery_fraction > 1) {
    failures.push_back(absl::StrFormat("battery reading %g is not a fraction in [0, 1]",
                                       signals.battery_fraction));
  } else if (signals.battery_fraction < policy.min_battery_fraction) {
    failures.push_back(absl::StrFormat("battery %.2f below %.2f", signals.battery_fraction,
                                       policy.min_battery_fraction));
  }
  if (policy.require_unmetered_link && !signals.unmetered_link) {
    failures.push_back("metered link");
  }
  if (policy.require_thermal_ok && !signals.thermal_ok) failures.push_back("too hot");
  return absl::StrJoin(failures, "; ");
}

std::string NotServingReason(const VehicleSignals& signals, const EligibilityPolicy& policy) {
  if (policy.require_parked && !signals.parked) return "not parked";
  if (policy.require_thermal_ok && !signals.thermal_ok) return "too hot";
  return "";
}

absl::StatusOr<EligibilityPolicy> ParseEligibilityPolicy(const ConfigNode& node) {
  RETURN_IF_ERROR(node.RejectUnknownKeys({"require_parked", "require_plugged_in", "min_battery",
                                          "require_unmetered_link", "require_thermal_ok"}));
  EligibilityPolicy policy;
  ASSIGN_OR_RETURN(policy.require_parked, node.Bool("require_parked", policy.require_parked));
  ASSIGN_OR_RETURN(policy.require_plugged_in,
                   node.Bool("require_plugged_in", policy.require_plugged_in));
  ASSIGN_OR_RETURN(policy.min_battery_fraction,
                   node.Double("min_battery", policy.min_battery_fraction));
  if (policy.min_battery_fraction < 0 || policy.min_battery_fraction > 1) {
    return node.Error("min_battery", "must be between 0 and 1");
  }
  ASSIGN_OR_RETURN(policy.require_unmetered_link,
                   node.Bool("require_unmetered_link", policy.require_unmetered_link));
  ASSIGN_OR_RETURN(policy.require_thermal_ok,
                   node.Bool("require_thermal_ok", policy.require_thermal_ok));
  return policy;
}

}  // namespace cosched::scheduler
