// File: common/collectives_config.h
// The `collectives:` section of a worker or job config:
//   collectives:
//     timeout: 30s            # bound on rendezvous and on every operation
//     listen_host: 127.0.0.1  # address peers dial to reach this rank
//     shared_memory: true     # ranks on one host allreduce through shared memory
//     shared_memory_bytes_per_rank: 16MiB
//     allreduce: {...}        # see AlgorithmSelector::FromConfig
// configs/collectives.yaml is the documented example.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/algorithm.h"
#include "common/config.h"

namespace cosched {

struct CollectivesConfig {
  absl::Duration timeout = absl::Seconds(30);
  std::string listen_host = "127.0.0.1";
  bool shared_memory = true;
  uint64_t shared_memory_bytes_per_rank = 16 << 20;
  collectives::AlgorithmSelector selector;
};

absl::StatusOr<CollectivesConfig> ParseCollectivesConfig(const ConfigNode& section);

}  // namespace cosched
