// File: scheduler/core/inference_demand.h
// InferenceDemand: whether the cluster should take nodes back from training for inference.
// Demand is the number of inference requests refused, or routed to a training node (each of
// which pauses a rank), within a sliding window. At `reclaim_at` the core reclaims one node
// (at most one per `reclaim_interval`, so a burst does not strip a job at once); after
// `give_back_after` without demand it gives the reserved nodes back to training.
#pragma once

#include <deque>

#include "absl/time/time.h"

namespace cosched::scheduler {

struct DemandPolicy {
  absl::Duration window = absl::Seconds(10);
  int reclaim_at = 20;  // demand events within the window
  absl::Duration reclaim_interval = absl::Seconds(5);
  absl::Duration give_back_after = absl::Seconds(30);
  // A node stays with a job at least this long before it can be taken (no thrashing).
  absl::Duration min_hold = absl::Seconds(30);
  // What a reclaimed node's preemption notice gives it to stop training. Its peers go on
  // without it at once; the budget bounds how long the node itself may take to hand over.
  absl::Duration notice_budget = absl::Seconds(1);
};

class InferenceDemand {
 public:
  explicit InferenceDemand(DemandPolicy policy) : policy_(policy) {}

  void Record(absl::Time when);
  // Demand events within the window ending at `now`.
  int Pressure(absl::Time now);
  bool ShouldReclaim(absl::Time now);
  void Reclaimed(absl::Time now) { last_reclaim_ = now; }
  bool ShouldGiveBack(absl::Time now) const;
  const DemandPolicy& policy() const { return policy_; }

 private:
  const DemandPolicy policy_;
  std::deque<absl::Time> events_;
  absl::Time last_event_ = absl::InfinitePast();
  absl::Time last_reclaim_ = absl::InfinitePast();
};

}  // namespace cosched::scheduler
