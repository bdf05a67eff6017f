// File: common/collectives_config.cc
#include "common/collectives_config.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace cosched {

const std::vector<std::string>& AllreduceAlgorithmNames() {
  static const std::vector<std::string> names = {
      "auto",   "ring",           "ring-chunked",    "halving-doubling",
      "bcube",  "allreduce-ring", "allreduce-bcube", "exchange",
      "direct",
  };
  return names;
}

absl::Status CheckAllreduceAlgorithmName(absl::string_view name) {
  const std::vector<std::string>& names = AllreduceAlgorithmNames();
  if (std::find(names.begin(), names.end(), name) != names.end()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("unknown allreduce algorithm '", name,
                                                 "' (known: ", absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<AllreduceConfig> ParseAllreduceConfig(const ConfigNode& section) {
  RETURN_IF_ERROR(section.RejectUnknownKeys({"algorithm", "rules"}));
  AllreduceConfig config;
  ASSIGN_OR_RETURN(config.algorithm, section.String("algorithm", config.algorithm));
  if (absl::Status known = CheckAllreduceAlgorithmName(config.algorithm); !known.ok()) {
    return section.Error("algorithm", known.message());
  }
  ASSIGN_OR_RETURN(const std::vector<ConfigNode> rule_nodes, section.List("rules"));
  if (config.algorithm != "auto" && !rule_nodes.empty()) {
    return section.Error("rules", "give either a fixed 'algorithm' or 'rules', not both");
  }
  for (const ConfigNode& node : rule_nodes) {
    RETURN_IF_ERROR(node.RejectUnknownKeys({"min_bytes", "algorithm"}));
    AllreduceRule rule;
    ASSIGN_OR_RETURN(rule.min_bytes, node.ByteSize("min_bytes", 0));
    ASSIGN_OR_RETURN(rule.algorithm, node.String("algorithm", ""));
    if (absl::Status known = CheckAllreduceAlgorithmName(rule.algorithm); !known.ok()) {
      return node.Error("algorithm", known.message());
    }
    if (rule.algorithm == "auto") {
      return node.Error("algorithm", "a rule must name a concrete algorithm, not 'auto'");
    }
    config.rules.push_back(std::move(rule));
  }
  return config;
}

absl::StatusOr<CollectivesConfig> ParseCollectivesConfig(const ConfigNode& section) {
  // Before the unknown-key check, so an old config hears what replaced the key.
  if (section.Has("listen_host")) {
    return section.Error(
        "listen_host",
        "no longer exists: each rank advertises its own address, not a job-wide one; remove "
        "it and give a worker's address with cosched-worker --advertise-address (or "
        "COSCHED_ADVERTISE_ADDRESS) instead");
  }
  RETURN_IF_ERROR(section.RejectUnknownKeys(
      {"timeout", "shared_memory", "shared_memory_bytes_per_rank", "allreduce"}));
  CollectivesConfig config;
  ASSIGN_OR_RETURN(config.timeout, section.Duration("timeout", config.timeout));
  if (config.timeout <= absl::ZeroDuration()) {
    return section.Error("timeout", "must be positive");
  }
  ASSIGN_OR_RETURN(config.shared_memory, section.Bool("shared_memory", config.shared_memory));
  ASSIGN_OR_RETURN(
      config.shared_memory_bytes_per_rank,
      section.ByteSize("shared_memory_bytes_per_rank", config.shared_memory_bytes_per_rank));
  if (config.shared_memory_bytes_per_rank < 4096) {
    return section.Error("shared_memory_bytes_per_rank", "must be at least 4KiB");
  }
  ASSIGN_OR_RETURN(const ConfigNode allreduce, section.Map("allreduce"));
  ASSIGN_OR_RETURN(config.allreduce, ParseAllreduceConfig(allreduce));
  return config;
}

}  // namespace cosched
