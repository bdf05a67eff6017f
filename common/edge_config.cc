// File: common/edge_config.cc
#include "common/edge_config.h"

#include <cmath>

#include "common/status_macros.h"

namespace cosched {

absl::StatusOr<EdgeConfig> ParseEdgeConfig(const ConfigNode& job) {
  EdgeConfig config;
  if (!job.Has("edge")) return config;
  config.enabled = true;
  ASSIGN_OR_RETURN(const ConfigNode edge, job.Map("edge"));
  RETURN_IF_ERROR(edge.RejectUnknownKeys({"local_steps", "outer_optimizer", "compression",
                                          "round_deadline", "over_select", "max_norm_ratio",
                                          "sync_min_link_mbps", "vehicle_batch"}));
  ASSIGN_OR_RETURN(config.local_steps, edge.Int("local_steps", config.local_steps, 1, 1 << 20));

  ASSIGN_OR_RETURN(const ConfigNode outer, edge.Map("outer_optimizer"));
  RETURN_IF_ERROR(outer.RejectUnknownKeys({"learning_rate", "momentum"}));
  ASSIGN_OR_RETURN(config.outer_learning_rate,
                   outer.Double("learning_rate", config.outer_learning_rate));
  if (!(config.outer_learning_rate > 0) || !std::isfinite(config.outer_learning_rate)) {
    return outer.Error("learning_rate", "must be > 0");
  }
  ASSIGN_OR_RETURN(config.outer_momentum, outer.Double("momentum", config.outer_momentum));
  if (!(config.outer_momentum >= 0 && config.outer_momentum < 1)) {
    return outer.Error("momentum", "must be in [0, 1)");
  }

  ASSIGN_OR_RETURN(config.compression,
                   edge.Enum("compression", config.compression, {"auto", "none", "fp16", "int8"}));
  ASSIGN_OR_RETURN(const std::string deadline, edge.String("round_deadline", "auto"));
  if (deadline != "auto") {
    ASSIGN_OR_RETURN(const absl::Duration given,
                     edge.Duration("round_deadline", absl::ZeroDuration()));
    if (given <= absl::ZeroDuration()) return edge.Error("round_deadline", "must be > 0 or auto");
    config.round_deadline = given;
  }
  ASSIGN_OR_RETURN(config.over_select, edge.Double("over_select", config.over_select));
  if (!(config.over_select >= 0 && config.over_select <= 10)) {
    return edge.Error("over_select", "must be in [0, 10] (a fraction of the vehicles needed)");
  }
  ASSIGN_OR_RETURN(config.max_norm_ratio, edge.Double("max_norm_ratio", config.max_norm_ratio));
  if (!(config.max_norm_ratio > 1) || !std::isfinite(config.max_norm_ratio)) {
    return edge.Error("max_norm_ratio", "must be > 1");
  }
  ASSIGN_OR_RETURN(config.sync_min_link_mbps,
                   edge.Double("sync_min_link_mbps", config.sync_min_link_mbps));
  if (!(config.sync_min_link_mbps >= 0) || !std::isfinite(config.sync_min_link_mbps)) {
    return edge.Error("sync_min_link_mbps", "must be >= 0");
  }
  if (edge.Has("vehicle_batch")) {
    ASSIGN_OR_RETURN(config.vehicle_batch, edge.Int("vehicle_batch", 0, 1, 1 << 20));
  }
  return config;
}

}  // namespace cosched
