// File: tools/cosched_up/fleet.h
// A fleet's availability over time, for `cosched up`: when each vehicle is parked and
// plugged in. Either replayed from the Caltech ACN charging sessions
// (../shared/data/traces/ev_charging/acn_caltech_2021_sessions.json), time compressed, or
// scripted in YAML (configs/fleet/*.yaml):
//   fleet:
//     vehicles:
//       - id: car-1
//         events:
//           - {at: 0s, parked: true, plugged_in: true, battery: 0.8}
//           - {at: 40s, parked: false, plugged_in: false}
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cosched::tools {

struct VehicleState {
  bool parked = false;
  bool plugged_in = false;
  double battery = 0.8;
  bool unmetered_link = true;
};

struct FleetEvent {
  absl::Duration at;  // from the start of the run
  int vehicle = 0;    // index into FleetTimeline::vehicles
  VehicleState state;
};

struct FleetTimeline {
  std::vector<std::string> vehicles;
  std::vector<FleetEvent> events;  // by time; every vehicle has an event at 0
};

absl::StatusOr<FleetTimeline> LoadFleetScript(const std::string& path);

// The `vehicles` busiest charging spaces of the ACN trace, replayed from 07:00 local time
// (14:00 GMT) of the trace's first weekday: one real second of the run is `compression`
// seconds of the trace; `span` bounds the run.
absl::StatusOr<FleetTimeline> LoadAcnTrace(const std::string& path, int vehicles,
                                           double compression, absl::Duration span);

// The YAML a worker's --vehicle-state file holds for `state`.
std::string VehicleStateYaml(const VehicleState& state);

}  // namespace cosched::tools
