// File: scheduler/core/inference_demand.cc
#include "scheduler/core/inference_demand.h"

namespace cosched::scheduler {

void InferenceDemand::Record(absl::Time when) {
  events_.push_back(when);
  last_event_ = std::max(last_event_, when);
}

int InferenceDemand::Pressure(absl::Time now) {
  while (!events_.empty() && now - events_.front() > policy_.window) events_.pop_front();
  return static_cast<int>(events_.size());
}

bool InferenceDemand::ShouldReclaim(absl::Time now) {
  return Pressure(now) >= policy_.reclaim_at && now - last_reclaim_ >= policy_.reclaim_interval;
}

bool InferenceDemand::ShouldGiveBack(absl::Time now) const {
  return now - last_event_ >= policy_.give_back_after;
}

}  // namespace cosched::scheduler
