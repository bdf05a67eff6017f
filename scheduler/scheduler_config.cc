// File: scheduler/scheduler_config.cc
#include "scheduler/scheduler_config.h"

#include "common/status_macros.h"

namespace cosched::scheduler {

absl::StatusOr<SchedulerConfig> ParseSchedulerConfig(const ConfigNode& root) {
  RETURN_IF_ERROR(root.RejectUnknownKeys({"scheduler"}));
  ASSIGN_OR_RETURN(const ConfigNode node, root.Map("scheduler"));
  RETURN_IF_ERROR(node.RejectUnknownKeys({"heartbeat_interval", "heartbeat_ttl", "vehicle",
                                          "inference", "preemption", "placement", "limits"}));
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
  RETURN_IF_ERROR(
      inference.RejectUnknownKeys({"datacenter_network", "vehicle_network", "preemption_bound",
                                   "default_service_per_image", "default_model"}));
  CoreConfig& core = config.core;
  ASSIGN_OR_RETURN(core.datacenter_network,
                   inference.Duration("datacenter_network", core.datacenter_network));
  ASSIGN_OR_RETURN(core.vehicle_network,
                   inference.Duration("vehicle_network", core.vehicle_network));
  ASSIGN_OR_RETURN(core.preemption_bound,
                   inference.Duration("preemption_bound", core.preemption_bound));
  ASSIGN_OR_RETURN(core.default_service_per_image,
                   inference.Duration("default_service_per_image", core.default_service_per_image));
  ASSIGN_OR_RETURN(core.default_model, inference.String("default_model", ""));
  ASSIGN_OR_RETURN(const ConfigNode preemption, node.Map("preemption"));
  RETURN_IF_ERROR(preemption.RejectUnknownKeys({"window", "reclaim_at", "reclaim_interval",
                                                "give_back_after", "min_hold", "notice_budget"}));
  DemandPolicy& demand = core.demand;
  ASSIGN_OR_RETURN(demand.window, preemption.Duration("window", demand.window));
  ASSIGN_OR_RETURN(const int64_t reclaim_at,
                   preemption.Int("reclaim_at", demand.reclaim_at, 1, 1 << 30));
  demand.reclaim_at = static_cast<int>(reclaim_at);
  ASSIGN_OR_RETURN(demand.reclaim_interval,
                   preemption.Duration("reclaim_interval", demand.reclaim_interval));
  ASSIGN_OR_RETURN(demand.give_back_after,
                   preemption.Duration("give_back_after", demand.give_back_after));
  ASSIGN_OR_RETURN(demand.min_hold, preemption.Duration("min_hold", demand.min_hold));
  ASSIGN_OR_RETURN(demand.notice_budget,
                   preemption.Duration("notice_budget", demand.notice_budget));
  if (demand.notice_budget <= absl::ZeroDuration()) {
    return preemption.Error("notice_budget", "must be positive");
  }
  ASSIGN_OR_RETURN(const ConfigNode limits, node.Map("limits"));
  RETURN_IF_ERROR(limits.RejectUnknownKeys({"jobs_per_client", "submits_per_second", "submit_burst",
                                            "infers_per_second", "infer_burst"}));
  ClientLimits& client = config.limits;
  ASSIGN_OR_RETURN(const int64_t jobs, limits.Int("jobs_per_client", client.max_jobs, 1, 1 << 20));
  client.max_jobs = static_cast<int>(jobs);
  const auto positive = [&](absl::string_view key, double* value) -> absl::Status {
    ASSIGN_OR_RETURN(*value, limits.Double(key, *value));
    if (!(*value > 0)) return limits.Error(key, "must be positive");
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(positive("submits_per_second", &client.submits_per_second));
  RETURN_IF_ERROR(positive("submit_burst", &client.submit_burst));
  RETURN_IF_ERROR(positive("infers_per_second", &client.infers_per_second));
  RETURN_IF_ERROR(positive("infer_burst", &client.infer_burst));
  if (client.submit_burst < 1 || client.infer_burst < 1) {
    return limits.Error(client.submit_burst < 1 ? "submit_burst" : "infer_burst",
                        "must be at least 1 (one call)");
  }
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
