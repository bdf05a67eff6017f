// File: scheduler/plugins/plugin_registry.cc
#include "scheduler/plugins/plugin_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "scheduler/plugins/builtin_plugins.h"

namespace cosched::scheduler {
namespace {

constexpr double kDefaultSaturationMbps = 1000;
constexpr absl::Duration kDefaultReliabilityWindow = absl::Minutes(30);

template <typename MakeFn>
PluginRegistry::Factory NoArguments(MakeFn make) {
  return [make](const ConfigNode&) -> absl::StatusOr<std::unique_ptr<PlacementPlugin>> {
    return make();
  };
}

}  // namespace

PluginRegistry PluginRegistry::Builtin() {
  PluginRegistry registry;
  registry.Register("resource_fit", {}, NoArguments(MakeResourceFit));
  registry.Register("kind_preference", {}, NoArguments(MakeKindPreference));
  registry.Register("link_bandwidth", {"saturation_mbps"},
                    [](const ConfigNode& args) -> absl::StatusOr<std::unique_ptr<PlacementPlugin>> {
                      ASSIGN_OR_RETURN(const double saturation,
                                       args.Double("saturation_mbps", kDefaultSaturationMbps));
                      if (saturation <= 0) return args.Error("saturation_mbps", "must be > 0");
                      return MakeLinkBandwidth(saturation);
                    });
  registry.Register("reliability", {"window"},
                    [](const ConfigNode& args) -> absl::StatusOr<std::unique_ptr<PlacementPlugin>> {
                      ASSIGN_OR_RETURN(const absl::Duration window,
                                       args.Duration("window", kDefaultReliabilityWindow));
                      return MakeReliability(window);
                    });
  registry.Register("spread", {}, NoArguments([] { return MakeSpread(SpreadMode::kSpread); }));
  registry.Register("pack", {}, NoArguments([] { return MakeSpread(SpreadMode::kPack); }));
  return registry;
}

void PluginRegistry::Register(std::string name, std::vector<std::string> argument_keys,
                              Factory factory) {
  entries_[std::move(name)] = Entry{std::move(argument_keys), std::move(factory)};
}

std::vector<std::string> PluginRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

absl::StatusOr<PlacementProfile> PluginRegistry::ParseProfile(const ConfigNode& placement) const {
  RETURN_IF_ERROR(placement.RejectUnknownKeys({"plugins", "feasible_nodes_to_score"}));
  ASSIGN_OR_RETURN(const std::vector<ConfigNode> items, placement.List("plugins"));
  PlacementProfile profile;
  ASSIGN_OR_RETURN(
      const int64_t to_score,
      placement.Int("feasible_nodes_to_score", profile.feasible_nodes_to_score, 1, 1 << 20));
  profile.feasible_nodes_to_score = static_cast<int>(to_score);
  for (const ConfigNode& item : items) {
    ASSIGN_OR_RETURN(const std::string name, item.String("name", ""));
    const auto it = entries_.find(name);
    if (it == entries_.end()) {
      return item.Error("name", absl::StrCat("unknown plugin '", name,
                                             "' (known: ", absl::StrJoin(names(), ", "), ")"));
    }
    std::vector<absl::string_view> known = {"name", "weight"};
    for (const std::string& key : it->second.argument_keys) known.push_back(key);
    RETURN_IF_ERROR(item.RejectUnknownKeys(known));
    WeightedPlugin weighted;
    ASSIGN_OR_RETURN(weighted.weight, item.Double("weight", 1.0));
    if (weighted.weight < 0) return item.Error("weight", "must be >= 0");
    ASSIGN_OR_RETURN(weighted.plugin, it->second.factory(item));
    profile.plugins.push_back(std::move(weighted));
  }
  if (profile.plugins.empty()) return placement.Error("plugins", "enables no plugin");
  return profile;
}

PlacementProfile DefaultPlacementProfile() {
  PlacementProfile profile;
  profile.plugins.push_back({MakeResourceFit(), 1});
  profile.plugins.push_back({MakeKindPreference(), 2});
  profile.plugins.push_back({MakeLinkBandwidth(kDefaultSaturationMbps), 1});
  profile.plugins.push_back({MakeReliability(kDefaultReliabilityWindow), 2});
  profile.plugins.push_back({MakeSpread(SpreadMode::kSpread), 1});
  return profile;
}

}  // namespace cosched::scheduler
