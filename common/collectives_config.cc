// File: common/collectives_config.cc
#include "common/collectives_config.h"

#include "common/status_macros.h"

namespace cosched {

absl::StatusOr<CollectivesConfig> ParseCollectivesConfig(const ConfigNode& section) {
  RETURN_IF_ERROR(section.RejectUnknownKeys(
      {"timeout", "listen_host", "shared_memory", "shared_memory_bytes_per_rank", "allreduce"}));
  CollectivesConfig config;
  ASSIGN_OR_RETURN(config.timeout, section.Duration("timeout", config.timeout));
  if (config.timeout <= absl::ZeroDuration()) {
    return section.Error("timeout", "must be positive");
  }
  ASSIGN_OR_RETURN(config.listen_host, section.String("listen_host", config.listen_host));
  if (config.listen_host.empty()) return section.Error("listen_host", "must not be empty");
  ASSIGN_OR_RETURN(config.shared_memory, section.Bool("shared_memory", config.shared_memory));
  ASSIGN_OR_RETURN(
      config.shared_memory_bytes_per_rank,
      section.ByteSize("shared_memory_bytes_per_rank", config.shared_memory_bytes_per_rank));
  if (config.shared_memory_bytes_per_rank < 4096) {
    return section.Error("shared_memory_bytes_per_rank", "must be at least 4KiB");
  }
  ASSIGN_OR_RETURN(const ConfigNode allreduce, section.Map("allreduce"));
  ASSIGN_OR_RETURN(config.selector, collectives::AlgorithmSelector::FromConfig(allreduce));
  return config;
}

}  // namespace cosched
