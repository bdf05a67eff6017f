// File: scheduler/scheduler_config.cc
#include "scheduler/scheduler_config.h"

#include "common/status_macros.h"

namespace cosched::scheduler {

absl::StatusOr<SchedulerConfig> ParseSchedulerConfig(const ConfigNode& root) {
  RETURN_IF_ERROR(root.RejectUnknownKeys({"scheduler"}));
  ASSIGN_OR_RETURN(const ConfigNode node, root.Map("scheduler"));
  RETURN_IF_ERROR(node.RejectUnknownKeys(
      {"heartbeat_interval", "heartbeat_ttl", "vehicle", "inference", "placement"}));
  SchedulerConfig config;
  ASSIGN_OR_RETURN(config.heartbeat_interval,
                   node.Duration("heartbeat_interval", config.heartbeat_interval));
  ASSIGN_OR_RETURN(config.core.heartbeat_ttl,
                   node.Duration("heartbeat_ttl", config.core.heartbeat_ttl));
  if (config.core.heartbeat_ttl <= config.heartbeat_interval) {
    return node.Error("heartbeat_ttl", "must be longer than heartbeat_interval");
  }
  ASSIGN_OR_RETURN(const ConfigNode vehicle, node.Map("vehicle"));
  ASSIGN_OR_RETURN(config.core.vehicle, ParseEligibilityPolicy(vehicle));
  ASSIGN_OR_RETURN(const ConfigNode inference, node.Map("inference"));
  RETURN_IF_ERROR(inference.RejectUnknownKeys(
      {"datacenter_network", "vehicle_network", "preemption_bound", "default_service_per_image"}));
  CoreConfig& core = config.core;
  ASSIGN_OR_RETURN(core.datacenter_network,
                   inference.Duration("datacenter_network", core.datacenter_network));
  ASSIGN_OR_RETURN(core.vehicle_network,
                   inference.Duration("vehicle_network", core.vehicle_network));
  ASSIGN_OR_RETURN(core.preemption_bound,
                   inference.Duration("preemption_bound", core.preemption_bound));
  ASSIGN_OR_RETURN(core.default_service_per_image,
                   inference.Duration("default_service_per_image", core.default_service_per_image));
  if (node.Has("placement")) {
    ASSIGN_OR_RETURN(const ConfigNode placement, node.Map("placement"));
    ASSIGN_OR_RETURN(config.placement, PluginRegistry::Builtin().ParseProfile(placement));
  }
  return config;
}

absl::StatusOr<SchedulerConfig> LoadSchedulerConfig(const std::string& path) {
  ASSIGN_OR_RETURN(const ConfigNode root, ConfigNode::LoadFile(path));
  return ParseSchedulerConfig(root);
}

}  // namespace cosched::scheduler
