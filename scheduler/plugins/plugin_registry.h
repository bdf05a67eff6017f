// File: scheduler/plugins/plugin_registry.h
// An explicit name -> factory registry of placement plugins, and the profile that
// configs/scheduler.yaml builds from it:
//   placement:
//     plugins:
//       - {name: resource_fit}
//       - {name: reliability, weight: 3, window: 10m}
//     feasible_nodes_to_score: 200
// Filters run in the listed order; scores are weighed by `weight` (default 1).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"
#include "scheduler/plugins/plugin.h"

namespace cosched::scheduler {

struct WeightedPlugin {
  std::unique_ptr<PlacementPlugin> plugin;
  double weight = 1;
};

struct PlacementProfile {
  std::vector<WeightedPlugin> plugins;
  // A placement stops looking once this many nodes (or as many as it places, if more) have
  // passed the filters, and picks the best of those, as Kubernetes' scheduler does with
  // percentageOfNodesToScore: a decision then costs the same at 100 nodes or 10,000. Each
  // placement starts where the previous one stopped, so every node gets considered in turn.
  int feasible_nodes_to_score = 200;
};

class PluginRegistry {
 public:
  // Builds a plugin from its profile entry (for plugin-specific arguments).
  using Factory =
      std::function<absl::StatusOr<std::unique_ptr<PlacementPlugin>>(const ConfigNode&)>;

  // The plugins cosched ships: resource_fit, kind_preference, link_bandwidth, reliability,
  // spread and pack.
  static PluginRegistry Builtin();

  void Register(std::string name, std::vector<std::string> argument_keys, Factory factory);
  std::vector<std::string> names() const;
  // Reads `placement:`; unknown plugin names and arguments are errors naming the entry.
  absl::StatusOr<PlacementProfile> ParseProfile(const ConfigNode& placement) const;

 private:
  struct Entry {
    std::vector<std::string> argument_keys;
    Factory factory;
  };
  std::map<std::string, Entry> entries_;
};

// The profile used when the config has no `placement:` section: every builtin filter, and
// scores for kind, link, reliability and spread.
PlacementProfile DefaultPlacementProfile();

}  // namespace cosched::scheduler
