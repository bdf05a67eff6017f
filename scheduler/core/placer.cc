// File: scheduler/core/placer.cc
#include "scheduler/core/placer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cosched::scheduler {

std::optional<std::string> Placer::Rejection(const PlacementRequest& request,
                                             const Node& node) const {
  for (const WeightedPlugin& entry : profile_.plugins) {
    if (std::optional<std::string> reason = entry.plugin->Filter(request, node)) return reason;
  }
  return std::nullopt;
}

double Placer::Score(const PlacementRequest& request, const Node& node) const {
  double total = 0, weights = 0;
  for (const WeightedPlugin& entry : profile_.plugins) {
    if (!entry.plugin->scores() || entry.weight <= 0) continue;
    total += entry.weight * entry.plugin->Score(request, node);
    weights += entry.weight;
  }
  return weights > 0 ? total / weights : 0;
}

Placement Placer::Place(const PlacementRequest& request, const std::vector<const Node*>& candidates,
                        int count) const {
  Placement placement;
  std::vector<std::pair<double, const Node*>> scored;
  for (const Node* node : candidates) {
    if (std::optional<std::string> reason = Rejection(request, *node)) {
      ++placement.rejections[*reason];
      continue;
    }
    scored.emplace_back(Score(request, *node), node);
  }
  placement.feasible = static_cast<int>(scored.size());
  const size_t take = std::min(scored.size(), static_cast<size_t>(std::max(count, 0)));
  std::partial_sort(scored.begin(), scored.begin() + take, scored.end(),
                    [](const auto& a, const auto& b) {
                      if (a.first != b.first) return a.first > b.first;
                      return a.second->info.id < b.second->info.id;
                    });
  for (size_t i = 0; i < take; ++i) placement.chosen.push_back(scored[i].second);
  return placement;
}

std::string SummarizeRejections(const std::map<std::string, int>& rejections) {
  std::vector<std::string> parts;
  for (const auto& [reason, count] : rejections) parts.push_back(absl::StrCat(count, " ", reason));
  return parts.empty() ? "no nodes registered" : absl::StrJoin(parts, ", ");
}

}  // namespace cosched::scheduler
