// File: scheduler/core/placer.h
// Placer: picks nodes for a job's new ranks with a placement profile. The filters run on
// the candidates in turn from a start position (the first filter that refuses gives the
// reason) until the profile's feasible_nodes_to_score have passed or every candidate was
// seen; the survivors are ranked by the weighted mean of the scoring plugins, ties broken by
// node id, so decisions repeat exactly in the simulator.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "scheduler/core/node.h"
#include "scheduler/plugins/plugin_registry.h"

namespace cosched::scheduler {

struct Placement {
  std::vector<const Node*> chosen;  // best first, at most the number asked for
  // Nodes that passed every filter: all of them when `looked_at_all`, otherwise a lower
  // bound that is at least the number asked for.
  int feasible = 0;
  bool looked_at_all = true;
  size_t next_start = 0;  // where the next placement should start looking
  // For Explain: how many of the nodes looked at each reason ruled out ("busy" -> 12).
  std::map<std::string, int> rejections;
};

class Placer {
 public:
  explicit Placer(PlacementProfile profile) : profile_(std::move(profile)) {}

  // Picks up to `count` of `candidates`, looking from index `start` (wrapping around).
  Placement Place(const PlacementRequest& request, const std::vector<const Node*>& candidates,
                  int count, size_t start = 0) const;

  // Why `node` cannot host a rank of the request's job, or nullopt if it can.
  std::optional<Rejection> Reject(const PlacementRequest& request, const Node& node) const;

 private:
  double Score(const PlacementRequest& request, const Node& node) const;

  PlacementProfile profile_;
};

// "3 busy, 2 job wants datacenter nodes": a placement's rejections in one line; `if_none`
// when there are none.
std::string SummarizeRejections(const std::map<std::string, int>& rejections,
                                absl::string_view if_none = "no nodes registered");

}  // namespace cosched::scheduler
