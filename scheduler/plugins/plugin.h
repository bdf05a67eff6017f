// File: scheduler/plugins/plugin.h
// Placement plugins, in the manner of the Kubernetes scheduling framework: a Filter says
// whether a node can host one more rank of a job (or why not: "does not fit" is a value,
// not an error), a Score ranks the nodes that pass (0..100, higher is better). The Placer
// (scheduler/core/placer.h) runs the plugins a profile enables and weighs their scores.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "scheduler/core/node.h"
#include "scheduler/core/types.h"

namespace cosched::scheduler {

// What plugins see about the job being placed.
struct PlacementRequest {
  const JobSpec* spec = nullptr;
  JobId job;
  std::vector<const Node*> members;  // nodes the job already has (for spread and pack)
  absl::Time now;
};

class PlacementPlugin {
 public:
  virtual ~PlacementPlugin() = default;
  virtual std::string name() const = 0;
  // nullopt: the node fits; otherwise the reason it does not, phrased for `coschedctl
  // describe` ("busy with job j-3", "link 20 Mb/s below the job's 100").
  virtual std::optional<std::string> Filter(const PlacementRequest& request,
                                            const Node& node) const {
    return std::nullopt;
  }
  virtual bool scores() const { return false; }
  virtual double Score(const PlacementRequest& request, const Node& node) const { return 0; }
};

}  // namespace cosched::scheduler
