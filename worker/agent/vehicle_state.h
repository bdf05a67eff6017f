// File: worker/agent/vehicle_state.h
// A vehicle's eligibility signals, read from a small YAML (or JSON) file that the vehicle's
// own software, or `cosched up` replaying a charging trace, keeps up to date:
//   {parked: true, plugged_in: true, battery: 0.82, unmetered_link: true, thermal_ok: true}
// and, when the vehicle knows when it will leave, departs_at: 2026-12-07T18:30:00Z (RFC 3339).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "proto/scheduler.pb.h"

namespace cosched::worker {

// Reads the file; a missing or malformed file is an error naming it and the field.
absl::StatusOr<cosched::v1::VehicleSignals> ReadVehicleState(const std::string& path);

}  // namespace cosched::worker
