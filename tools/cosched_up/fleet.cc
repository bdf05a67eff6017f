// File: tools/cosched_up/fleet.cc
#include "tools/cosched_up/fleet.h"

#include <algorithm>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/config.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cosched::tools {

absl::StatusOr<FleetTimeline> LoadFleetScript(const std::string& path) {
  ASSIGN_OR_RETURN(const ConfigNode root, ConfigNode::LoadFile(path));
  RETURN_IF_ERROR(root.RejectUnknownKeys({"fleet"}));
  ASSIGN_OR_RETURN(const ConfigNode fleet, root.Map("fleet"));
  RETURN_IF_ERROR(fleet.RejectUnknownKeys({"vehicles"}));
  ASSIGN_OR_RETURN(const std::vector<ConfigNode> vehicles, fleet.List("vehicles"));
  if (vehicles.empty()) return fleet.Error("vehicles", "lists no vehicle");
  FleetTimeline timeline;
  for (const ConfigNode& vehicle : vehicles) {
    RETURN_IF_ERROR(vehicle.RejectUnknownKeys({"id", "events"}));
    ASSIGN_OR_RETURN(const std::string id, vehicle.String("id", ""));
    if (id.empty()) return vehicle.Error("id", "is missing");
    const int index = static_cast<int>(timeline.vehicles.size());
    timeline.vehicles.push_back(id);
    ASSIGN_OR_RETURN(const std::vector<ConfigNode> events, vehicle.List("events"));
    VehicleState state;  // each event changes only the fields it names
    bool has_start = false;
    for (const ConfigNode& event : events) {
      RETURN_IF_ERROR(
          event.RejectUnknownKeys({"at", "parked", "plugged_in", "battery", "unmetered_link"}));
      FleetEvent out;
      out.vehicle = index;
      ASSIGN_OR_RETURN(out.at, event.Duration("at", absl::ZeroDuration()));
      if (out.at < absl::ZeroDuration()) return event.Error("at", "must not be negative");
      ASSIGN_OR_RETURN(state.parked, event.Bool("parked", state.parked));
      ASSIGN_OR_RETURN(state.plugged_in, event.Bool("plugged_in", state.plugged_in));
      ASSIGN_OR_RETURN(state.battery, event.Double("battery", state.battery));
      if (state.battery < 0 || state.battery > 1) {
        return event.Error("battery", "must be between 0 and 1");
      }
      ASSIGN_OR_RETURN(state.unmetered_link, event.Bool("unmetered_link", state.unmetered_link));
      out.state = state;
      has_start = has_start || out.at == absl::ZeroDuration();
      timeline.events.push_back(out);
    }
    if (!has_start) timeline.events.push_back(FleetEvent{absl::ZeroDuration(), index, {}});
  }
  std::stable_sort(timeline.events.begin(), timeline.events.end(),
                   [](const FleetEvent& a, const FleetEvent& b) { return a.at < b.at; });
  return timeline;
}

namespace {

struct Session {
  absl::Time connected;
  absl::Time disconnected;
};

absl::StatusOr<absl::Time> ParseAcnTime(const std::string& text, const std::string& where) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", text, &t, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": bad time '", text, "' (", error, ")"));
  }
  return t;
}

}  // namespace

absl::StatusOr<FleetTimeline> LoadAcnTrace(const std::string& path, int vehicles,
                                           double compression, absl::Duration span) {
  if (vehicles < 1) return absl::InvalidArgumentError("the fleet needs at least one vehicle");
  if (compression <= 0) return absl::InvalidArgumentError("time compression must be positive");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open the ACN trace ", path));
  const nlohmann::json sessions = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!sessions.is_array() || sessions.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a JSON array of sessions"));
  }
  std::map<std::string, std::vector<Session>> by_space;
  absl::Time first = absl::InfiniteFuture();
  for (size_t i = 0; i < sessions.size(); ++i) {
    const nlohmann::json& s = sessions[i];
    const std::string where = absl::StrCat(path, ": session ", i);
    if (!s.is_object() || !s.contains("connectionTime") || !s.contains("disconnectTime") ||
        !s["connectionTime"].is_string() || !s["disconnectTime"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": needs connectionTime and disconnectTime strings"));
    }
    ASSIGN_OR_RETURN(const absl::Time connected,
                     ParseAcnTime(s["connectionTime"].get<std::string>(), where));
    ASSIGN_OR_RETURN(const absl::Time disconnected,
                     ParseAcnTime(s["disconnectTime"].get<std::string>(), where));
    const std::string space = s.value("spaceID", absl::StrCat("space-", i));
    by_space[space].push_back({connected, disconnected});
    first = std::min(first, connected);
  }
  // 14:00 GMT (07:00 in Pasadena) of the first weekday on or after the first session.
  absl::CivilDay day = absl::ToCivilDay(first, absl::UTCTimeZone());
  while (absl::GetWeekday(day) == absl::Weekday::saturday ||
         absl::GetWeekday(day) == absl::Weekday::sunday) {
    ++day;
  }
  const absl::Time start = absl::FromCivil(absl::CivilHour(day) + 14, absl::UTCTimeZone());
  const absl::Time end = start + span * compression;
  // The busiest spaces within the window.
  std::vector<std::pair<int, std::string>> busiest;
  for (const auto& [space, list] : by_space) {
    const int overlapping =
        static_cast<int>(std::count_if(list.begin(), list.end(), [&](const Session& s) {
          return s.connected < end && s.disconnected > start;
        }));
    if (overlapping > 0) busiest.emplace_back(overlapping, space);
  }
  std::sort(busiest.begin(), busiest.end(), std::greater<>());
  if (static_cast<int>(busiest.size()) < vehicles) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": only ", busiest.size(), " spaces have sessions in the window"));
  }
  FleetTimeline timeline;
  auto at = [&](absl::Time t) { return std::max(absl::ZeroDuration(), (t - start) / compression); };
  for (int v = 0; v < vehicles; ++v) {
    const std::string& space = busiest[v].second;
    timeline.vehicles.push_back(absl::StrCat("car-", v + 1));
    timeline.events.push_back(FleetEvent{absl::ZeroDuration(), v, {}});
    for (const Session& s : by_space[space]) {
      if (s.connected >= end || s.disconnected <= start) continue;
      VehicleState plugged{true, true, 0.8, true};
      timeline.events.push_back(FleetEvent{at(s.connected), v, plugged});
      timeline.events.push_back(FleetEvent{at(s.disconnected), v, VehicleState{}});
    }
  }
  std::stable_sort(timeline.events.begin(), timeline.events.end(),
                   [](const FleetEvent& a, const FleetEvent& b) { return a.at < b.at; });
  return timeline;
}

std::string VehicleStateYaml(const VehicleState& state) {
  return absl::StrFormat("{parked: %s, plugged_in: %s, battery: %.2f, unmetered_link: %s}\n",
                         state.parked ? "true" : "false", state.plugged_in ? "true" : "false",
                         state.battery, state.unmetered_link ? "true" : "false");
}

}  // namespace cosched::tools
