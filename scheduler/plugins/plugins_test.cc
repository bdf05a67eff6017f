#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/config.h"
#include "scheduler/plugins/builtin_plugins.h"
#include "scheduler/plugins/plugin_registry.h"

namespace cosched::scheduler {
namespace {

using ::testing::HasSubstr;
using ::testing::Optional;

Node MakeNode(const std::string& id, NodeKind kind, double link_mbps, const std::string& zone) {
  Node node;
  node.info.id = id;
  node.info.kind = kind;
  node.info.cpus = 4;
  node.info.memory_bytes = 8LL << 30;
  node.info.link_mbps = link_mbps;
  node.info.zone = zone;
  return node;
}

PlacementRequest Request(const JobSpec& spec) {
  PlacementRequest request;
  request.spec = &spec;
  request.job = "j-1";
  request.now = absl::UnixEpoch() + absl::Hours(1);
  return request;
}

TEST(PluginsTest, ResourceFitNamesWhatDoesNotFit) {
  JobSpec spec;
  spec.cpus_per_worker = 8;
  const auto fit = MakeResourceFit();
  Node node = MakeNode("n1", NodeKind::kDatacenter, 1000, "a");
  EXPECT_THAT(fit->Filter(Request(spec), node),
              Optional(Rejection("fewer cpus than the job needs")));
  spec.cpus_per_worker = 2;
  EXPECT_EQ(fit->Filter(Request(spec), node), std::nullopt);
  node.job = "j-9";
  EXPECT_THAT(fit->Filter(Request(spec), node), Optional(Rejection("busy")));
  node.job.clear();
  node.state = NodeState::kIneligible;
  node.ineligible_reason = "not parked";
  EXPECT_THAT(fit->Filter(Request(spec), node), Optional(Rejection("ineligible")));
}

TEST(PluginsTest, KindPreferenceFiltersAndPrefersDatacenter) {
  JobSpec spec;
  spec.kind = KindPreference::kDatacenter;
  const auto kind = MakeKindPreference();
  const Node vehicle = MakeNode("v1", NodeKind::kVehicle, 100, "depot");
  const Node dc = MakeNode("d1", NodeKind::kDatacenter, 100, "rack");
  EXPECT_NE(kind->Filter(Request(spec), vehicle), std::nullopt);
  spec.kind = KindPreference::kAny;
  EXPECT_EQ(kind->Filter(Request(spec), vehicle), std::nullopt);
  EXPECT_GT(kind->Score(Request(spec), dc), kind->Score(Request(spec), vehicle));
}

TEST(PluginsTest, LinkBandwidthFiltersBelowTheMinimumAndScoresUpToSaturation) {
  JobSpec spec;
  spec.min_link_mbps = 100;
  const auto link = MakeLinkBandwidth(1000);
  EXPECT_THAT(link->Filter(Request(spec), MakeNode("a", NodeKind::kVehicle, 20, "z")),
              Optional(Rejection("link below the job's minimum")));
  EXPECT_DOUBLE_EQ(link->Score(Request(spec), MakeNode("b", NodeKind::kVehicle, 500, "z")), 50);
  EXPECT_DOUBLE_EQ(link->Score(Request(spec), MakeNode("c", NodeKind::kVehicle, 5000, "z")), 100);
}

TEST(PluginsTest, ReliabilityHalvesPerRecentDeparture) {
  JobSpec spec;
  const PlacementRequest request = Request(spec);
  const auto reliability = MakeReliability(absl::Minutes(30));
  Node node = MakeNode("n", NodeKind::kVehicle, 100, "z");
  EXPECT_DOUBLE_EQ(reliability->Score(request, node), 100);
  node.departures = {request.now - absl::Minutes(1), request.now - absl::Minutes(5),
                     request.now - absl::Hours(2)};  // the last is outside the window
  EXPECT_DOUBLE_EQ(reliability->Score(request, node), 25);
}

TEST(PluginsTest, SpreadAndPackScoreZonesOppositely) {
  JobSpec spec;
  PlacementRequest request = Request(spec);
  const Node member = MakeNode("m", NodeKind::kDatacenter, 100, "rack-a");
  request.SetMembers({&member});
  const Node same = MakeNode("s", NodeKind::kDatacenter, 100, "rack-a");
  const Node other = MakeNode("o", NodeKind::kDatacenter, 100, "rack-b");
  const auto spread = MakeSpread(SpreadMode::kSpread);
  const auto pack = MakeSpread(SpreadMode::kPack);
  EXPECT_GT(spread->Score(request, other), spread->Score(request, same));
  EXPECT_GT(pack->Score(request, same), pack->Score(request, other));
}

TEST(PluginRegistryTest, ParsesAProfileAndRejectsUnknownNamesAndArguments) {
  const PluginRegistry registry = PluginRegistry::Builtin();
  auto config = ConfigNode::LoadString(R"(
plugins:
  - {name: resource_fit}
  - {name: reliability, weight: 3, window: 10m}
  - {name: pack}
)",
                                       "profile.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  auto profile = registry.ParseProfile(*config);
  ASSERT_TRUE(profile.ok()) << profile.status();
  ASSERT_EQ(profile->plugins.size(), 3u);
  EXPECT_EQ(profile->plugins[1].plugin->name(), "reliability");
  EXPECT_DOUBLE_EQ(profile->plugins[1].weight, 3);
  EXPECT_EQ(profile->plugins[2].plugin->name(), "pack");

  auto unknown = ConfigNode::LoadString("plugins:\n  - {name: gpu_fit}\n", "bad.yaml");
  ASSERT_TRUE(unknown.ok());
  EXPECT_THAT(registry.ParseProfile(*unknown).status().message(),
              HasSubstr("unknown plugin 'gpu_fit'"));
  auto bad_arg = ConfigNode::LoadString("plugins:\n  - {name: spread, window: 1m}\n", "bad.yaml");
  ASSERT_TRUE(bad_arg.ok());
  EXPECT_THAT(registry.ParseProfile(*bad_arg).status().message(), HasSubstr("window"));
  auto empty = ConfigNode::LoadString("plugins: []\n", "empty.yaml");
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(registry.ParseProfile(*empty).status().message(), HasSubstr("enables no plugin"));
}

}  // namespace
}  // namespace cosched::scheduler
