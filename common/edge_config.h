// File: common/edge_config.h
// The `edge:` section of a job config: the edge tier (worker/edge/), DiLoCo-style training
// for members on slow links. The data-center members keep synchronising every step and form
// one replica; each vehicle is a replica of its own that trains `local_steps` inner steps,
// then sends its pseudo-gradient, compressed, in an outer round. Absent, the job trains as one
// synchronous group. Both sides read it: the worker trains by it, the scheduler checks it.
//   edge:
//     local_steps: 50          # H, inner steps between outer rounds
//     outer_optimizer:
//       learning_rate: 0.7     # DiLoCo's outer settings: SGD with Nesterov momentum
//       momentum: 0.9          # 0: plain averaging
//     compression: auto        # none | fp16 | int8 (with error feedback), or auto: by the
//                              # replica's link (scheduler/edge/link_codec.h)
//     round_deadline: auto     # or a duration; auto: from each vehicle's link
//     over_select: 0.25        # invite this fraction more vehicles than a round needs
//     max_norm_ratio: 10       # reject a contribution whose norm (over the square root of
//                              # its samples) is this many times the median of the others
//     sync_min_link_mbps: 1000 # members on links at least this fast train synchronously
//     vehicle_batch: 16        # samples per inner step of a vehicle (default: global_batch)
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace cosched {

struct EdgeConfig {
  bool enabled = false;  // the section is present
  int64_t local_steps = 50;
  double outer_learning_rate = 0.7;
  double outer_momentum = 0.9;
  std::string compression = "auto";
  std::optional<absl::Duration> round_deadline;  // nullopt: auto
  double over_select = 0.25;
  double max_norm_ratio = 10;
  double sync_min_link_mbps = 1000;
  // Samples per inner step of a vehicle replica; 0: the job's global_batch. A vehicle is one
  // worker of its own: a batch like a synchronous rank's (global_batch over the ranks) gives it
  // as many optimizer steps per sample as that rank takes.
  int64_t vehicle_batch = 0;
};

// The `edge` key of a job mapping; disabled when absent. Errors name the field and the reason.
absl::StatusOr<EdgeConfig> ParseEdgeConfig(const ConfigNode& job);

}  // namespace cosched
