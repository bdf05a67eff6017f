// File: scheduler/core/available_nodes.cc
#include "scheduler/core/available_nodes.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cosched::scheduler {

std::string UnavailableReason(const Node& node, bool reconnecting) {
  if (node.state == NodeState::kLost) return "lost";
  if (node.state == NodeState::kDraining) return "draining";
  if (reconnecting) return "reconnecting";
  if (node.state == NodeState::kIneligible) {
    return absl::StrCat("ineligible (", node.ineligible_reason, ")");
  }
  if (!node.free()) return "busy";
  if (node.reserved_for_inference) return "reserved for inference";
  return "";
}

void AvailableNodes::Update(const Node& node, bool reconnecting, bool resources_changed) {
  std::string reason = UnavailableReason(node, reconnecting);
  const auto [filed, first_time] = filed_as_.try_emplace(node.info.id);
  const bool was_available = !first_time && filed->second.empty();
  summary_stale_ = true;
  if (!first_time && !was_available) {
    auto count = unavailable_.find(filed->second);
    if (--count->second == 0) unavailable_.erase(count);
  }
  if (reason.empty()) {
    if (!was_available) list_stale_ = true;
    available_.insert(&node);
    if (!was_available || resources_changed) {
      ++epoch_;
      arrivals_.push_back(&node);
      if (arrivals_.size() > kArrivalsKept) arrivals_.pop_front();
    }
  } else {
    if (was_available) {
      available_.erase(&node);
      list_stale_ = true;
    }
    ++unavailable_[reason];
  }
  filed->second = std::move(reason);
}

const std::string& AvailableNodes::UnavailableSummary() const {
  if (summary_stale_) {
    std::vector<std::string> parts;
    for (const auto& [reason, nodes] : unavailable_)
      parts.push_back(absl::StrCat(nodes, " ", reason));
    summary_ = absl::StrJoin(parts, ", ");
    summary_stale_ = false;
  }
  return summary_;
}

std::optional<AvailableNodes::Arrivals> AvailableNodes::ArrivedSince(uint64_t epoch) const {
  const uint64_t missed = epoch >= epoch_ ? 0 : epoch_ - epoch;
  if (missed > arrivals_.size()) return std::nullopt;
  return Arrivals{arrivals_.end() - static_cast<ptrdiff_t>(missed), arrivals_.end()};
}

const std::vector<const Node*>& AvailableNodes::List() const {
  if (list_stale_) {
    list_.assign(available_.begin(), available_.end());
    list_stale_ = false;
  }
  return list_;
}

}  // namespace cosched::scheduler
