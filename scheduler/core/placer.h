// File: scheduler/core/placer.h
// Placer: picks nodes for a job's new ranks with a placement profile. Every filter runs on
// every candidate (the first one that refuses gives the reason); the survivors are ranked by
// the weighted mean of the scoring plugins, ties broken by node id so decisions repeat
// exactly in the simulator.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "scheduler/core/node.h"
#include "scheduler/plugins/plugin_registry.h"

namespace cosched::scheduler {

struct Placement {
  std::vector<const Node*> chosen;  // best first, at most the number asked for
  int feasible = 0;                 // nodes that passed every filter
  // For Explain: how many nodes each reason ruled out ("busy" -> 12).
  std::map<std::string, int> rejections;
};

class Placer {
 public:
  explicit Placer(PlacementProfile profile) : profile_(std::move(profile)) {}

  Placement Place(const PlacementRequest& request, const std::vector<const Node*>& candidates,
                  int count) const;

  // Why `node` cannot host a rank of the request's job, or nullopt if it can.
  std::optional<std::string> Rejection(const PlacementRequest& request, const Node& node) const;

 private:
  double Score(const PlacementRequest& request, const Node& node) const;

  PlacementProfile profile_;
};

// "3 busy, 2 job wants datacenter nodes": a placement's rejections in one line.
std::string SummarizeRejections(const std::map<std::string, int>& rejections);

}  // namespace cosched::scheduler
