// FakeCollectiveNetwork: the conformance suite on a RealClock, and what only the fake has
// (simulated latency, disagreement between ranks, bookkeeping of groups).
#include "collectives/testing/fake_collective_network.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "collectives/testing/collective_group_conformance.h"

namespace cosched::collectives {
namespace {

using ::testing::HasSubstr;

class FakeFactory : public testing::GroupFactory {
 public:
  FakeFactory() : network_(RealClock::Get()) {}
  absl::StatusOr<std::unique_ptr<CollectiveGroup>> Create(GroupOptions options) override {
    return network_.CreateGroup(options);
  }

 private:
  FakeCollectiveNetwork network_;
};

using testing::CollectiveGroupConformanceTest;  // the macro takes an unqualified name
INSTANTIATE_TEST_SUITE_P(Fake, CollectiveGroupConformanceTest,
                         ::testing::Values(testing::ConformanceBackend{
                             "fake", [] { return std::make_unique<FakeFactory>(); }}),
                         testing::ConformanceBackendName);

GroupOptions Options(int rank, int world) {
  GroupOptions options;
  options.job_id = "fake";
  options.rank = rank;
  options.world_size = world;
  options.timeout = absl::Seconds(30);
  return options;
}

// Runs `body(rank, group)` on `world` threads after forming a group on `network`.
void RunRanks(FakeCollectiveNetwork& network, int world,
              const std::function<void(int, CollectiveGroup&)>& body) {
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      auto group = network.CreateGroup(Options(rank, world));
      ASSERT_TRUE(group.ok()) << group.status();
      body(rank, **group);
    });
  }
  for (auto& thread : threads) thread.join();
}

TEST(FakeCollectiveNetworkTest, RanksThatDisagreeOnTheOperationFailWithInternal) {
  FakeCollectiveNetwork network(RealClock::Get());
  std::vector<absl::Status> statuses(2);
  RunRanks(network, 2, [&](int rank, CollectiveGroup& group) {
    std::vector<float> data(rank == 0 ? 4 : 5, 1.0f);
    statuses[rank] = group.Allreduce(absl::MakeSpan(data));
  });
  // Whichever rank entered second saw the disagreement; the other sees its peer fail.
  int internal = 0;
  for (const absl::Status& status : statuses) {
    EXPECT_FALSE(status.ok());
    internal += status.code() == absl::StatusCode::kInternal;
  }
  EXPECT_EQ(internal, 1);
}

TEST(FakeCollectiveNetworkTest, ARankCannotJoinTwiceOrWithAnotherWorldSize) {
  FakeCollectiveNetwork network(RealClock::Get());
  std::stop_source stop;
  std::thread waiting([&] {
    GroupOptions options = Options(0, 2);
    options.stop = stop.get_token();
    EXPECT_EQ(network.CreateGroup(options).status().code(), absl::StatusCode::kCancelled);
  });
  while (network.live_groups() == 0) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_EQ(network.CreateGroup(Options(0, 2)).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(network.CreateGroup(Options(1, 3)).status().message(),
              HasSubstr("a peer formed this group with 2 ranks"));
  stop.request_stop();
  waiting.join();
  EXPECT_EQ(network.live_groups(), 0);
}

TEST(FakeCollectiveNetworkTest, LatencyIsSpentInTheClocksTime) {
  SimClock clock;
  FakeCollectiveNetwork network(&clock, {.latency = [](size_t bytes) {
    return absl::Milliseconds(10) + absl::Microseconds(bytes);
  }});
  std::atomic<bool> done{false};
  std::thread advancer([&] {
    // Virtual time moves only here; the ranks wait in it.
    while (!done) {
      clock.Advance(absl::Milliseconds(1));
      absl::SleepFor(absl::Microseconds(200));
    }
  });
  RunRanks(network, 2, [&](int rank, CollectiveGroup& group) {
    std::vector<float> data(250, 1.0f);  // 1000 bytes: 10 ms + 1 ms
    const absl::Time start = clock.Now();
    ASSERT_TRUE(group.Allreduce(absl::MakeSpan(data)).ok());
    EXPECT_GE(clock.Now() - start, absl::Milliseconds(11));
    EXPECT_EQ(data[0], 2.0f);
  });
  done = true;
  advancer.join();
}

TEST(FakeCollectiveNetworkTest, ForgetsAGroupOnceEveryRankLetGo) {
  FakeCollectiveNetwork network(RealClock::Get());
  RunRanks(network, 3, [](int, CollectiveGroup& group) { ASSERT_TRUE(group.Barrier().ok()); });
  EXPECT_EQ(network.live_groups(), 0);
}

}  // namespace
}  // namespace cosched::collectives
