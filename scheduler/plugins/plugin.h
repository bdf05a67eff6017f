// File: scheduler/plugins/plugin.h
// Placement plugins, in the manner of the Kubernetes scheduling framework: a Filter says
// whether a node can host one more rank of a job (or why not: "does not fit" is a value,
// not an error), a Score ranks the nodes that pass (0..100, higher is better). The Placer
// (scheduler/core/placer.h) runs the plugins a profile enables and weighs their scores.
// Both run once per candidate node, up to 10,000 times per decision: they must not allocate.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "scheduler/core/node.h"
#include "scheduler/core/types.h"

namespace cosched::scheduler {

// What plugins see about the job being placed.
struct PlacementRequest {
  const JobSpec* spec = nullptr;
  JobId job;
  std::vector<const Node*> members;  // nodes the job already has
  // How many of `members` are in each zone (for spread and pack), counted once per request.
  absl::flat_hash_map<std::string, int> member_zones;
  absl::Time now;

  void SetMembers(std::vector<const Node*> nodes);
};

// Why a node cannot host a rank: a fixed phrase the Placer counts nodes by ("busy", "link
// below the job's minimum"). It must be a string literal (it is kept, not copied); the
// job's own numbers are in its spec, and a node's in `coschedctl get nodes`.
using Rejection = std::string_view;

class PlacementPlugin {
 public:
  virtual ~PlacementPlugin() = default;
  virtual std::string name() const = 0;
  // nullopt: the node fits; otherwise the reason it does not, phrased for `coschedctl
  // describe`.
  virtual std::optional<Rejection> Filter(const PlacementRequest& request, const Node& node) const {
    return std::nullopt;
  }
  virtual bool scores() const { return false; }
  virtual double Score(const PlacementRequest& request, const Node& node) const { return 0; }
};

}  // namespace cosched::scheduler
