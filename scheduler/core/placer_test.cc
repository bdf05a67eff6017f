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
  EXPECT_THAT(SummarizeRejections(placement.rejections),
              HasSubstr("1 link below the job's minimum"));
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

TEST(PlacerTest, StopsLookingOnceEnoughNodesFitAndResumesWhereItStopped) {
  std::vector<Node> nodes;
  for (int i = 0; i < 10; ++i) nodes.push_back(MakeNode("n" + std::to_string(i), 100));
  nodes[1].job = "j-9";  // busy
  std::vector<const Node*> candidates;
  for (const Node& n : nodes) candidates.push_back(&n);
  JobSpec spec;
  PlacementRequest request;
  request.spec = &spec;
  PlacementProfile profile = DefaultPlacementProfile();
  profile.feasible_nodes_to_score = 3;
  const Placer placer(std::move(profile));

  const Placement first = placer.Place(request, candidates, 1);
  EXPECT_FALSE(first.looked_at_all);
  EXPECT_EQ(first.feasible, 3);  // n0, n2, n3: n1 is busy
  EXPECT_EQ(first.rejections.at("busy"), 1);
  EXPECT_EQ(first.next_start, 4u);
  ASSERT_EQ(first.chosen.size(), 1u);
  EXPECT_EQ(first.chosen[0]->info.id, "n0");  // equal scores: the lowest id

  const Placement next = placer.Place(request, candidates, 1, first.next_start);
  ASSERT_EQ(next.chosen.size(), 1u);
  EXPECT_EQ(next.chosen[0]->info.id, "n4");  // looked at n4..n6, not at n0 again
  EXPECT_EQ(next.next_start, 7u);

  // Asking for more than the profile scores looks further; the end wraps around.
  const Placement wide = placer.Place(request, candidates, 5, 7);
  EXPECT_EQ(wide.feasible, 5);  // n7, n8, n9, n0, n2
  EXPECT_EQ(wide.next_start, 3u);
  const Placement all = placer.Place(request, candidates, 20, 5);
  EXPECT_TRUE(all.looked_at_all);
  EXPECT_EQ(all.feasible, 9);
}

}  // namespace
}  // namespace cosched::scheduler
