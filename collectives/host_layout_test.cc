// HostLayout: leaders, local ranks and the hierarchical decision from host ids, and the
// exchange of host ids through a store.
#include "collectives/host_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "collectives/memory_store.h"

namespace cosched::collectives {
namespace {

using ::testing::ElementsAre;

TEST(HostLayoutTest, LowestRankOfEachHostLeadsIt) {
  // Ranks dealt round-robin over two hosts, then a third host with one rank.
  const std::vector<std::string> hosts = {"a", "b", "a", "b", "c"};
  const HostLayout leader_b = HostLayout::FromHostIds(hosts, 1);
  EXPECT_THAT(leader_b.leaders, ElementsAre(0, 1, 4));
  EXPECT_THAT(leader_b.local_ranks, ElementsAre(1, 3));
  EXPECT_EQ(leader_b.local_rank, 0);
  EXPECT_EQ(leader_b.leader_index, 1);
  EXPECT_TRUE(leader_b.is_leader());
  EXPECT_EQ(leader_b.largest_host_size, 2);
  EXPECT_TRUE(leader_b.hierarchical());

  const HostLayout follower = HostLayout::FromHostIds(hosts, 3);
  EXPECT_THAT(follower.local_ranks, ElementsAre(1, 3));
  EXPECT_EQ(follower.local_rank, 1);
  EXPECT_FALSE(follower.is_leader());

  const HostLayout alone = HostLayout::FromHostIds(hosts, 4);
  EXPECT_THAT(alone.local_ranks, ElementsAre(4));
  EXPECT_EQ(alone.leader_index, 2);
}

TEST(HostLayoutTest, OneHostAndOneRankPerHostAreNotHierarchical) {
  const HostLayout one_host = HostLayout::FromHostIds({"a", "a", "a"}, 2);
  EXPECT_TRUE(one_host.single_host());
  EXPECT_FALSE(one_host.hierarchical());
  EXPECT_EQ(one_host.local_size(), 3);

  const HostLayout spread = HostLayout::FromHostIds({"a", "b", "c"}, 0);
  EXPECT_EQ(spread.host_count(), 3);
  EXPECT_FALSE(spread.hierarchical());
}

TEST(HostLayoutTest, ExchangeGivesEveryRankTheSameHosts) {
  InMemoryStore store;
  const std::vector<std::string> ids = {"x", "y", "x"};
  std::vector<HostLayout> layouts(ids.size());
  std::vector<std::thread> ranks;
  for (int r = 0; r < 3; ++r) {
    ranks.emplace_back([&, r] {
      auto layout = HostLayout::Exchange(&store, "job/j/gen/1/", r, 3, ids[r], absl::Seconds(10));
      ASSERT_TRUE(layout.ok()) << layout.status();
      layouts[r] = *layout;
    });
  }
  for (auto& rank : ranks) rank.join();
  for (const HostLayout& layout : layouts) EXPECT_THAT(layout.leaders, ElementsAre(0, 1));
  EXPECT_THAT(layouts[2].local_ranks, ElementsAre(0, 2));
}

TEST(HostLayoutTest, ExchangeWithAMissingRankTimesOutNamingIt) {
  InMemoryStore store;
  const auto layout =
      HostLayout::Exchange(&store, "job/j/gen/1/", 0, 2, "x", absl::Milliseconds(100));
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kDeadlineExceeded) << layout.status();
  EXPECT_THAT(layout.status().message(), ::testing::HasSubstr("job/j/gen/1/host/1"));
}

TEST(HostLayoutTest, EmptyHostIdMeansThisMachine) {
  InMemoryStore store;
  std::vector<std::thread> ranks;
  std::vector<HostLayout> layouts(2);
  for (int r = 0; r < 2; ++r) {
    ranks.emplace_back([&, r] {
      // Rank 1 names this machine's id explicitly: the same host as rank 0's default.
      auto layout =
          HostLayout::Exchange(&store, "p/", r, 2, r == 0 ? "" : ThisHostId(), absl::Seconds(10));
      ASSERT_TRUE(layout.ok()) << layout.status();
      layouts[r] = *layout;
    });
  }
  for (auto& rank : ranks) rank.join();
  EXPECT_TRUE(layouts[0].single_host());
}

}  // namespace
}  // namespace cosched::collectives
