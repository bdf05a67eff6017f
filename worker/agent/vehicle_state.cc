// File: worker/agent/vehicle_state.cc
#include "worker/agent/vehicle_state.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/config.h"
#include "common/status_macros.h"

namespace cosched::worker {

absl::StatusOr<cosched::v1::VehicleSignals> ReadVehicleState(const std::string& path) {
  ASSIGN_OR_RETURN(const ConfigNode root, ConfigNode::LoadFile(path));
  RETURN_IF_ERROR(root.RejectUnknownKeys(
      {"parked", "plugged_in", "battery", "unmetered_link", "thermal_ok", "departs_at"}));
  cosched::v1::VehicleSignals signals;
  ASSIGN_OR_RETURN(const bool parked, root.Bool("parked", false));
  ASSIGN_OR_RETURN(const bool plugged_in, root.Bool("plugged_in", false));
  ASSIGN_OR_RETURN(const double battery, root.Double("battery", 0));
  if (!(battery >= 0 && battery <= 1)) {  // NaN too
    return root.Error("battery", "must be between 0 and 1");
  }
  ASSIGN_OR_RETURN(const bool unmetered, root.Bool("unmetered_link", false));
  ASSIGN_OR_RETURN(const bool thermal_ok, root.Bool("thermal_ok", true));
  signals.set_parked(parked);
  signals.set_plugged_in(plugged_in);
  signals.set_battery_fraction(battery);
  signals.set_unmetered_link(unmetered);
  signals.set_thermal_ok(thermal_ok);
  ASSIGN_OR_RETURN(const std::string departs_at, root.String("departs_at", ""));
  if (!departs_at.empty()) {
    absl::Time at;
    std::string why;
    if (!absl::ParseTime(absl::RFC3339_full, departs_at, &at, &why)) {
      return root.Error("departs_at", absl::StrCat("'", departs_at, "' is not an RFC 3339 time (",
                                                   why, "), e.g. 2026-12-07T18:30:00Z"));
    }
    signals.set_departs_at_unix_seconds(static_cast<double>(absl::ToUnixMicros(at)) / 1e6);
  }
  return signals;
}

}  // namespace cosched::worker
