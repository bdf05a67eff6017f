// File: bench/bench_hosts_test.cc
// Where `cosched-bench allreduce --hosts N` puts its ranks, and how it describes that. (The
// hosts themselves need root; tests/cross_host_bench_test.cc runs the real thing.)
#include "bench/bench_hosts.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "bench/allreduce_impls.h"

namespace cosched::bench {
namespace {

std::vector<int> Placement(int ranks, int hosts) {
  std::vector<int> host_of;
  for (int rank = 0; rank < ranks; ++rank) host_of.push_back(HostOfRank(rank, ranks, hosts));
  return host_of;
}

TEST(BenchHostsTest, RanksArePlacedInBlocks) {
  EXPECT_EQ(Placement(2, 1), (std::vector<int>{0, 0}));
  EXPECT_EQ(Placement(2, 2), (std::vector<int>{0, 1}));
  EXPECT_EQ(Placement(4, 2), (std::vector<int>{0, 0, 1, 1}));
  EXPECT_EQ(Placement(6, 3), (std::vector<int>{0, 0, 1, 1, 2, 2}));
  // Uneven: every host gets floor or ceil of ranks/hosts, consecutive ranks together.
  EXPECT_EQ(Placement(5, 2), (std::vector<int>{0, 0, 0, 1, 1}));
  EXPECT_EQ(Placement(7, 3), (std::vector<int>{0, 0, 0, 1, 1, 2, 2}));
  EXPECT_EQ(Placement(3, 3), (std::vector<int>{0, 1, 2}));
}

TEST(BenchHostsTest, EveryHostGetsARankAndBlocksNeverInterleave) {
  for (int hosts = 1; hosts <= 8; ++hosts) {
    for (int ranks = hosts; ranks <= 20; ++ranks) {
      const std::vector<int> host_of = Placement(ranks, hosts);
      EXPECT_EQ(host_of.front(), 0) << ranks << " ranks, " << hosts << " hosts";
      EXPECT_EQ(host_of.back(), hosts - 1) << ranks << " ranks, " << hosts << " hosts";
      for (size_t r = 1; r < host_of.size(); ++r) {
        // Non-decreasing by at most one: no host is skipped, no block split.
        EXPECT_TRUE(host_of[r] == host_of[r - 1] || host_of[r] == host_of[r - 1] + 1)
            << ranks << " ranks, " << hosts << " hosts, rank " << r;
      }
    }
  }
}

TEST(BenchHostsTest, PlacementIsDescribedForTheCaption) {
  EXPECT_EQ(DescribePlacement(2, 1, 0), "this machine (loopback)");
  EXPECT_EQ(DescribePlacement(2, 2, 0), "2 emulated hosts (1 rank each), unshaped links");
  EXPECT_EQ(DescribePlacement(4, 2, 0), "2 emulated hosts (2 ranks each), unshaped links");
  EXPECT_EQ(DescribePlacement(5, 2, 100),
            "2 emulated hosts (2-3 ranks each), links shaped to 100 Mbit/s");
  EXPECT_EQ(DescribePlacement(4, 2, 2.5),
            "2 emulated hosts (2 ranks each), links shaped to 2.5 Mbit/s");
}

TEST(BenchHostsTest, OpenMpiSharedMemoryEntryIsRenamedAcrossHosts) {
  std::vector<std::string> one_host;
  for (const Impl& impl : AvailableImpls(4, 1)) one_host.push_back(impl.name);
  std::vector<std::string> two_hosts;
  for (const Impl& impl : AvailableImpls(4, 2)) two_hosts.push_back(impl.name);
  EXPECT_THAT(one_host, ::testing::Contains("mpi-shm"));
  EXPECT_THAT(one_host, ::testing::Not(::testing::Contains("mpi-shm+tcp")));
  EXPECT_THAT(two_hosts, ::testing::Contains("mpi-shm+tcp"));
  EXPECT_THAT(two_hosts, ::testing::Not(::testing::Contains("mpi-shm")));
  // Nothing else differs.
  ASSERT_EQ(one_host.size(), two_hosts.size());
  for (size_t i = 0; i < one_host.size(); ++i) {
    if (one_host[i] != "mpi-shm") {
      EXPECT_EQ(one_host[i], two_hosts[i]);
    }
  }
  ASSERT_TRUE(FindImpl("mpi-shm+tcp", 4, 2).ok());
  EXPECT_EQ(FindImpl("mpi-shm+tcp", 4, 2)->launch, Launch::kMpiShm);
}

}  // namespace
}  // namespace cosched::bench
