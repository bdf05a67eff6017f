// File: scheduler/core/types.cc
#include "scheduler/core/types.h"

namespace cosched::scheduler {

const char* NodeKindName(NodeKind kind) {
  return kind == NodeKind::kVehicle ? "vehicle" : "datacenter";
}

const char* NodeStateName(NodeState state) {
  switch (state) {
    case NodeState::kReady:
      return "ready";
    case NodeState::kIneligible:
      return "ineligible";
    case NodeState::kLost:
      return "lost";
    case NodeState::kDraining:
      return "draining";
  }
  return "unknown";
}

const char* DepartureReasonName(DepartureReason reason) {
  switch (reason) {
    case DepartureReason::kCrashed:
      return "crashed";
    case DepartureReason::kFailed:
      return "failed";
    case DepartureReason::kVanished:
      return "vanished";
    case DepartureReason::kIneligible:
      return "ineligible";
    case DepartureReason::kReclaimed:
      return "reclaimed";
    case DepartureReason::kCancelled:
      return "cancelled";
    case DepartureReason::kDrained:
      return "drained";
  }
  return "unknown";
}

// A process that died or a member's own error; never a departure the job could not help
// (a vehicle driving off, a reclaim) nor a generation that failed around a healthy member.
bool CountsAsFailure(DepartureReason reason) {
  return reason == DepartureReason::kCrashed || reason == DepartureReason::kFailed;
}

const char* KindPreferenceName(KindPreference preference) {
  switch (preference) {
    case KindPreference::kAny:
      return "any";
    case KindPreference::kDatacenter:
      return "datacenter";
    case KindPreference::kVehicle:
      return "vehicle";
  }
  return "unknown";
}

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kPending:
      return "pending";
    case JobState::kRunning:
      return "running";
    case JobState::kSucceeded:
      return "succeeded";
    case JobState::kFailed:
      return "failed";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

bool IsTerminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kFailed ||
         state == JobState::kCancelled;
}

}  // namespace cosched::scheduler
