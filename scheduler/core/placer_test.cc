#include "scheduler/core/placer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched::scheduler {
namespace {

using ::testing::HasSubstr;

Node MakeNode(const std::string& id, double link_mbps) {
  Node node;
  node.info.id = id;
  node.info.cpus = 2;
  node.info.link_mbps = link_mbps;
  return node;
}

TEST(PlacerTest, ChoosesTheBestScoredFeasibleNodesAndCountsRejections) {
  std::vector<Node> nodes = {MakeNode("a", 100), MakeNode("b", 900), MakeNode("c", 500),
                             MakeNode("d", 10), MakeNode("e", 900)};
  nodes[4].job = "j-7";  // busy
  std::vector<const Node*> candidates;
  for (const Node& n : nodes) candidates.push_back(&n);
  JobSpec spec;
  spec.min_link_mbps = 50;
  PlacementRequest request;
  request.spec = &spec;
  request.job = "j-1";
  const Placer placer(DefaultPlacementProfile());
  const Placement placement = placer.Place(request, candidates, 2);
  ASSERT_EQ(placement.chosen.size(), 2u);
  EXPECT_EQ(placement.chosen[0]->info.id, "b");  // fastest link among the free ones
  EXPECT_EQ(placement.chosen[1]->info.id, "c");
  EXPECT_EQ(placement.feasible, 3);
  EXPECT_EQ(placement.rejections.at("busy"), 1);
  EXPECT_THAT(SummarizeRejections(placement.rejections), HasSubstr("1 busy"));
  EXPECT_THAT(SummarizeRejections(placement.rejections), HasSubstr("below the job's 50"));
}

TEST(PlacerTest, TiesAreBrokenByNodeIdSoDecisionsRepeat) {
  std::vector<Node> nodes = {MakeNode("n3", 100), MakeNode("n1", 100), MakeNode("n2", 100)};
  std::vector<const Node*> candidates = {&nodes[0], &nodes[1], &nodes[2]};
  JobSpec spec;
  PlacementRequest request;
  request.spec = &spec;
  const Placement placement = Placer(DefaultPlacementProfile()).Place(request, candidates, 3);
  ASSERT_EQ(placement.chosen.size(), 3u);
  EXPECT_EQ(placement.chosen[0]->info.id, "n1");
  EXPECT_EQ(placement.chosen[2]->info.id, "n3");
}

}  // namespace
}  // namespace cosched::scheduler
