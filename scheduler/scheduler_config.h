// File: scheduler/scheduler_config.h
// configs/scheduler.yaml: liveness, vehicle eligibility, inference routing estimates and the
// placement profile. Every field is checked; unknown fields are errors naming the file.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "scheduler/core/scheduler_core.h"
#include "scheduler/plugins/plugin_registry.h"
#include "scheduler/service/client_limits.h"

namespace cosched::scheduler {

struct SchedulerConfig {
  CoreConfig core;
  absl::Duration heartbeat_interval = absl::Milliseconds(500);  // what workers are told
  PlacementProfile placement = DefaultPlacementProfile();
  ClientLimits limits;  // per client on the client API
};

absl::StatusOr<SchedulerConfig> LoadSchedulerConfig(const std::string& path);
absl::StatusOr<SchedulerConfig> ParseSchedulerConfig(const ConfigNode& root);

}  // namespace cosched::scheduler
