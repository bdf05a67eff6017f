// File: scheduler/core/available_nodes.h
// AvailableNodes: the nodes a placement may pick from (ready, free, not reserved for
// inference, not standing in for a member that has yet to reconnect), in id order, and how
// many of the others are unavailable for each reason. A full cluster of 10,000 nodes has a
// few dozen available: a placement looks at those instead of at every node.
//
// The core refiles a node (Update) after every change to its state, job, reservation or
// registration. epoch() moves whenever a node becomes available or an available node's
// resources may have changed: placement filters see nothing else that changes, so a job that
// found no room at one epoch finds none until the epoch moves, and the core skips it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "scheduler/core/node.h"

namespace cosched::scheduler {

// Why `node` cannot be placed on ("busy", "ineligible (not plugged in)", ...), or "" if it
// can. `reconnecting`: it stands in for a member whose worker has not registered since a
// scheduler restart (its resources are unknown and it may never come back).
std::string UnavailableReason(const Node& node, bool reconnecting);

class AvailableNodes {
 public:
  // Files `node` as available or not. `resources_changed`: it (re-)registered, so what it
  // offers may differ from before.
  void Update(const Node& node, bool reconnecting, bool resources_changed);

  // In id order. The vector is rebuilt only after the set changed: a placement pass asks
  // for it once per waiting job.
  const std::vector<const Node*>& List() const;
  size_t size() const { return available_.size(); }
  // Unavailable nodes by reason: {"busy": 8988, "ineligible (driving)": 12, ...}.
  const std::map<std::string, int>& unavailable() const { return unavailable_; }
  // The same in one line, "8988 busy, 12 ineligible (driving)" (kept until the counts change:
  // every waiting job's reason quotes it).
  const std::string& UnavailableSummary() const;
  uint64_t epoch() const { return epoch_; }
  bool contains(const Node& node) const { return available_.contains(&node); }
  // The nodes whose arrival moved the epoch past `epoch` (they may have left again since);
  // nullopt when that reaches further back than the log keeps.
  struct Arrivals {
    std::deque<const Node*>::const_iterator begin, end;
  };
  std::optional<Arrivals> ArrivedSince(uint64_t epoch) const;

 private:
  struct ById {
    bool operator()(const Node* a, const Node* b) const { return a->info.id < b->info.id; }
  };
  absl::btree_set<const Node*, ById> available_;
  absl::flat_hash_map<NodeId, std::string> filed_as_;  // its UnavailableReason when last filed
  std::map<std::string, int> unavailable_;
  uint64_t epoch_ = 1;
  static constexpr size_t kArrivalsKept = 1024;
  std::deque<const Node*> arrivals_;  // arrivals_[i] moved the epoch to epoch_ - size + 1 + i
  mutable std::string summary_;
  mutable bool summary_stale_ = true;
  mutable std::vector<const Node*> list_;
  mutable bool list_stale_ = true;
};

}  // namespace cosched::scheduler
