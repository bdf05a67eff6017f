// File: scheduler/core/placer.cc
#include "scheduler/core/placer.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cosched::scheduler {

std::optional<Rejection> Placer::Reject(const PlacementRequest& request, const Node& node) const {
  for (const WeightedPlugin& entry : profile_.plugins) {
    if (std::optional<Rejection> reason = entry.plugin->Filter(request, node)) return reason;
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
                        int count, size_t start) const {
  Placement placement;
  const size_t enough = static_cast<size_t>(std::max({count, profile_.feasible_nodes_to_score, 1}));
  std::vector<std::pair<double, const Node*>> scored;
  scored.reserve(std::min(candidates.size(), enough));
  absl::flat_hash_map<Rejection, int> rejections;  // few distinct phrases, many nodes
  const size_t n = candidates.size();
  size_t looked = 0;
  for (; looked < n && scored.size() < enough; ++looked) {
    const Node* node = candidates[(start + looked) % n];
    if (std::optional<Rejection> reason = Reject(request, *node)) {
      ++rejections[*reason];
      continue;
    }
    scored.emplace_back(Score(request, *node), node);
  }
  placement.looked_at_all = looked == n;
  placement.next_start = n == 0 ? 0 : (start + looked) % n;
  for (const auto& [reason, nodes] : rejections) placement.rejections[std::string(reason)] = nodes;
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

std::string SummarizeRejections(const std::map<std::string, int>& rejections,
                                absl::string_view if_none) {
  std::vector<std::string> parts;
  for (const auto& [reason, count] : rejections) parts.push_back(absl::StrCat(count, " ", reason));
  return parts.empty() ? std::string(if_none) : absl::StrJoin(parts, ", ");
}

}  // namespace cosched::scheduler
