// File: collectives/testing/collective_group_conformance.cc
// The conformance suite's tests (see the header). Ranks are threads of this process.
#include "collectives/testing/collective_group_conformance.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <stop_token>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"

namespace cosched::collectives::testing {

std::string ConformanceBackendName(const ::testing::TestParamInfo<ConformanceBackend>& info) {
  return info.param.name;
}

namespace {

using ::testing::HasSubstr;

GroupOptions Options(int rank, int world, absl::Duration timeout = absl::Seconds(30)) {
  GroupOptions options;
  options.job_id = "conformance";
  options.rank = rank;
  options.world_size = world;
  options.timeout = timeout;
  return options;
}

// Rank r contributes (r + 1) * (i % 7 + 1) at index i: small integers, so float sums are exact
// whatever the order of addition.
std::vector<float> RankData(int rank, size_t n) {
  std::vector<float> data(n);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<float>((rank + 1) * (i % 7 + 1));
  return data;
}

void ExpectSummed(absl::Span<const float> data, int world) {
  const float ranks_sum = static_cast<float>(world * (world + 1) / 2);
  for (size_t i = 0; i < data.size(); ++i) {
    const float expected = ranks_sum * static_cast<float>(i % 7 + 1);
    if (data[i] != expected) {
      FAIL() << "element " << i << " is " << data[i] << ", expected " << expected;
    }
  }
}

// Forms `world` ranks, one thread each, and returns their groups (null where forming failed,
// with the failure recorded as a test failure).
std::vector<std::unique_ptr<CollectiveGroup>> FormRanks(GroupFactory& factory, int world,
                                                        absl::Duration timeout) {
  std::vector<std::unique_ptr<CollectiveGroup>> groups(world);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      auto group = factory.Create(Options(rank, world, timeout));
      ASSERT_TRUE(group.ok()) << group.status();
      groups[rank] = *std::move(group);
    });
  }
  for (auto& thread : threads) thread.join();
  return groups;
}

// Runs `body` on every rank of a fresh group of `world` ranks, then a barrier: a healthy group
// is torn down together, as the trainer does at a generation's end.
void RunRanks(GroupFactory& factory, int world, const std::function<void(CollectiveGroup&)>& body) {
  auto groups = FormRanks(factory, world, absl::Seconds(30));
  std::vector<std::thread> threads;
  for (auto& group : groups) {
    if (group == nullptr) return;
    threads.emplace_back([&body, &group] {
      body(*group);
      EXPECT_TRUE(group->Barrier().ok());
    });
  }
  for (auto& thread : threads) thread.join();
}

TEST_P(CollectiveGroupConformanceTest, AllreduceSumsExactlyForEveryWorldAndSize) {
  for (int world = 1; world <= 5; ++world) {
    for (size_t floats : {size_t{0}, size_t{1}, size_t{1001}, size_t{1} << 18}) {
      SCOPED_TRACE(::testing::Message() << "world " << world << ", floats " << floats);
      auto factory = GetParam().make_factory();
      RunRanks(*factory, world, [&](CollectiveGroup& group) {
        std::vector<float> data = RankData(group.rank(), floats);
        ASSERT_TRUE(group.Allreduce(absl::MakeSpan(data)).ok());
        ExpectSummed(data, world);
        // Again through the group's own staging buffer, the trainer's zero-copy path.
        const absl::Span<float> staged = group.StagingBuffer(floats);
        EXPECT_EQ(group.StagingBuffer(floats).data(), staged.data());
        const std::vector<float> mine = RankData(group.rank(), floats);
        std::copy(mine.begin(), mine.end(), staged.begin());
        ASSERT_TRUE(group.Allreduce(staged).ok());
        ExpectSummed(staged, world);
      });
    }
  }
}

TEST_P(CollectiveGroupConformanceTest, BroadcastAllgatherAndBarrier) {
  for (int world = 1; world <= 4; ++world) {
    SCOPED_TRACE(::testing::Message() << "world " << world);
    auto factory = GetParam().make_factory();
    RunRanks(*factory, world, [&](CollectiveGroup& group) {
      const size_t n = 777;
      const int root = world - 1;
      std::vector<float> data = RankData(group.rank(), n);
      ASSERT_TRUE(group.Broadcast(absl::MakeSpan(data), root).ok());
      EXPECT_EQ(data, RankData(root, n));

      std::string text = group.rank() == 0 ? "committed state" : "---------------";
      ASSERT_TRUE(group.Broadcast(absl::MakeSpan(text.data(), text.size()), 0).ok());
      EXPECT_EQ(text, "committed state");

      const std::vector<float> mine = RankData(group.rank(), n);
      std::vector<float> all(n * world);
      ASSERT_TRUE(group.Allgather(mine, absl::MakeSpan(all)).ok());
      for (int r = 0; r < world; ++r) {
        const std::vector<float> expected = RankData(r, n);
        EXPECT_TRUE(std::equal(expected.begin(), expected.end(), all.begin() + r * n))
            << "rank " << r << "'s part";
      }
      ASSERT_TRUE(group.Barrier().ok());
    });
  }
}

TEST_P(CollectiveGroupConformanceTest, BadArgumentsAreErrorsNotCrashes) {
  auto factory = GetParam().make_factory();
  EXPECT_EQ(factory->Create(Options(3, 2)).status().code(), absl::StatusCode::kInvalidArgument);
  GroupOptions no_job = Options(0, 1);
  no_job.job_id.clear();
  EXPECT_EQ(factory->Create(no_job).status().code(), absl::StatusCode::kInvalidArgument);
  GroupOptions no_timeout = Options(0, 1);
  no_timeout.timeout = absl::ZeroDuration();
  EXPECT_EQ(factory->Create(no_timeout).status().code(), absl::StatusCode::kInvalidArgument);

  auto group = factory->Create(Options(0, 1));
  ASSERT_TRUE(group.ok()) << group.status();
  std::vector<float> in(4), out(7);
  EXPECT_THAT((*group)->Allgather(in, absl::MakeSpan(out)).message(),
              HasSubstr("must hold input (4) x world size (1)"));
  EXPECT_EQ((*group)->Broadcast(absl::MakeSpan(in), 1).code(), absl::StatusCode::kInvalidArgument);
  // Argument errors do not fail the group.
  EXPECT_TRUE((*group)->health().ok());
  EXPECT_TRUE((*group)->Allreduce(absl::MakeSpan(in)).ok());
}

TEST_P(CollectiveGroupConformanceTest, RendezvousWithAMissingPeerTimesOutNamingTheGroup) {
  auto factory = GetParam().make_factory();
  const auto group = factory->Create(Options(0, 2, absl::Milliseconds(300)));
  EXPECT_EQ(group.status().code(), absl::StatusCode::kDeadlineExceeded) << group.status();
  EXPECT_THAT(group.status().message(), HasSubstr("job/conformance/gen/0/"));
  EXPECT_THAT(group.status().message(), HasSubstr("rank 0/2"));
}

TEST_P(CollectiveGroupConformanceTest, StopRequestCancelsRendezvousAtOnce) {
  auto factory = GetParam().make_factory();
  std::stop_source superseded;
  // A timeout far beyond CTest's: only the stop request can end this rendezvous.
  GroupOptions options = Options(0, 2, absl::Hours(1));
  options.stop = superseded.get_token();
  absl::Notification started;
  std::thread newer_generation([&] {
    started.WaitForNotification();
    absl::SleepFor(absl::Milliseconds(100));  // let the rendezvous begin waiting
    superseded.request_stop();
  });
  started.Notify();
  const auto group = factory->Create(options);
  newer_generation.join();
  EXPECT_EQ(group.status().code(), absl::StatusCode::kCancelled) << group.status();

  // A stop requested before the call cancels without waiting.
  EXPECT_EQ(factory->Create(options).status().code(), absl::StatusCode::kCancelled);
}

TEST_P(CollectiveGroupConformanceTest, StalledPeerTurnsIntoDeadlineExceededAndStaysFailed) {
  auto factory = GetParam().make_factory();
  auto groups = FormRanks(*factory, 2, absl::Milliseconds(300));
  ASSERT_TRUE(groups[0] && groups[1]);
  // Rank 1 is alive but never joins the allreduce.
  std::vector<float> data(1000, 1.0f);
  const absl::Status status = groups[0]->Allreduce(absl::MakeSpan(data));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(status.message(), HasSubstr("rank 0/2"));
  EXPECT_FALSE(groups[0]->Barrier().ok());
  EXPECT_EQ(groups[0]->health().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_P(CollectiveGroupConformanceTest, AbortFromAnotherThreadEndsABlockedOperation) {
  auto factory = GetParam().make_factory();
  // A long timeout: if Abort did not wake the operation, the test would hang until CTest's
  // timeout and fail there.
  auto groups = FormRanks(*factory, 2, absl::Minutes(10));
  ASSERT_TRUE(groups[0] && groups[1]);
  absl::Status status;
  std::thread blocked([&] {
    std::vector<float> data(1000, 1.0f);
    status = groups[0]->Allreduce(absl::MakeSpan(data));  // rank 1 never joins
  });
  absl::SleepFor(absl::Milliseconds(50));  // most runs abort a blocked call, some an early one
  groups[0]->Abort("membership changed");
  blocked.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
  EXPECT_THAT(status.message(), HasSubstr("membership changed"));
  EXPECT_EQ(groups[0]->health().code(), absl::StatusCode::kAborted);
  groups[0]->Abort("again");  // idempotent
  // The peer sees the aborted rank leave: its next operation fails, not at its timeout.
  std::vector<float> data(1000, 1.0f);
  const absl::Status peer = groups[1]->Allreduce(absl::MakeSpan(data));
  EXPECT_FALSE(peer.ok());
  EXPECT_NE(peer.code(), absl::StatusCode::kDeadlineExceeded) << peer;
}

TEST_P(CollectiveGroupConformanceTest, PeerThatLeavesFailsTheSurvivorsOperation) {
  auto factory = GetParam().make_factory();
  auto groups = FormRanks(*factory, 3, absl::Minutes(10));
  ASSERT_TRUE(groups[0] && groups[1] && groups[2]);
  std::vector<absl::Status> statuses(2);
  std::vector<std::thread> survivors;
  for (int rank = 0; rank < 2; ++rank) {
    survivors.emplace_back([&, rank] {
      std::vector<float> data(1000, 1.0f);
      statuses[rank] = groups[rank]->Allreduce(absl::MakeSpan(data));
    });
  }
  absl::SleepFor(absl::Milliseconds(50));
  groups[2].reset();  // rank 2 leaves (its process would exit) without joining
  for (auto& thread : survivors) thread.join();
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_FALSE(statuses[rank].ok()) << "rank " << rank;
    // Ended by the departure, long before the ten-minute timeout.
    EXPECT_NE(statuses[rank].code(), absl::StatusCode::kDeadlineExceeded) << statuses[rank];
  }
}

TEST_P(CollectiveGroupConformanceTest, GenerationsOfOneJobAreSeparateGroups) {
  auto factory = GetParam().make_factory();
  for (int64_t generation = 1; generation <= 3; ++generation) {
    std::vector<std::thread> threads;
    for (int rank = 0; rank < 2; ++rank) {
      threads.emplace_back([&, rank] {
        GroupOptions options = Options(rank, 2);
        options.generation = generation;
        auto group = factory->Create(options);
        ASSERT_TRUE(group.ok()) << group.status();
        EXPECT_EQ((*group)->generation(), generation);
        std::vector<float> data = RankData(rank, 64);
        ASSERT_TRUE((*group)->Allreduce(absl::MakeSpan(data)).ok());
        ExpectSummed(data, 2);
        ASSERT_TRUE((*group)->Barrier().ok());
      });
    }
    for (auto& thread : threads) thread.join();
  }
}

}  // namespace
}  // namespace cosched::collectives::testing
