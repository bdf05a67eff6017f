// File: worker/data/lease_table_test.cc
// Tests for LeaseTable: determinism, exactly-once-per-epoch under churn and preemption,
// epoch boundaries, serialization round trips and rejection of corrupt state.
#include "worker/data/lease_table.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cosched::worker {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kSeed = 42;

LeaseTable MakeTable(uint64_t num_samples, uint32_t shard_size, uint64_t seed = kSeed) {
  absl::StatusOr<LeaseTable> table = LeaseTable::Create(num_samples, shard_size, seed);
  EXPECT_TRUE(table.ok()) << table.status();
  return *std::move(table);
}

// How many samples of its plan a rank finishes in a step.
using DoneFn = std::function<uint32_t(int rank, uint32_t planned)>;
uint32_t AllDone(int, uint32_t planned) { return planned; }

// Runs steps of `ranks` ranks asking `batch` samples each until the epoch is done; returns
// how often each sample was consumed. Every plan must belong to the same epoch.
std::vector<int> RunEpoch(LeaseTable& table, int ranks, uint32_t batch, const DoneFn& done_fn) {
  std::vector<int> seen(table.num_samples(), 0);
  const int64_t epoch = table.epoch_done() ? table.epoch() + 1 : table.epoch();
  for (int step = 0; step < 1000000; ++step) {
    const std::vector<std::vector<uint32_t>> plans =
        table.PlanStep(std::vector<uint32_t>(ranks, batch));
    EXPECT_EQ(table.epoch(), epoch);
    std::vector<uint32_t> done(ranks);
    for (int r = 0; r < ranks; ++r) {
      EXPECT_LE(plans[r].size(), batch);
      done[r] = done_fn(r, static_cast<uint32_t>(plans[r].size()));
      for (uint32_t i = 0; i < done[r]; ++i) ++seen[plans[r][i]];
    }
    const absl::Status status = table.CommitStep(done);
    EXPECT_TRUE(status.ok()) << status;
    if (table.epoch_done()) return seen;
  }
  ADD_FAILURE() << "epoch " << epoch << " did not finish";
  return seen;
}

void ExpectEachOnce(const std::vector<int>& seen) {
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], 1) << "sample " << i;
}

// A checkpoint written by five ranks, adopted by a group of two: without ReleaseAll, ranks 2..4
// would keep their shards and the epoch would never end.
TEST(LeaseTableTest, ReleaseAllLetsFewerRanksFinishTheEpochExactlyOnce) {
  LeaseTable table = MakeTable(200, 8);
  std::vector<int> seen(table.num_samples(), 0);
  for (int step = 0; step < 3; ++step) {
    const auto plans = table.PlanStep(std::vector<uint32_t>(5, 6));
    std::vector<uint32_t> done(5);
    for (int r = 0; r < 5; ++r) {
      done[r] = static_cast<uint32_t>(plans[r].size());
      for (uint32_t sample : plans[r]) ++seen[sample];
    }
    ASSERT_TRUE(table.CommitStep(done).ok());
  }
  ASSERT_GT(table.leased_to(4), 0u);
  table.ReleaseAll();
  for (int r = 0; r < 5; ++r) EXPECT_EQ(table.leased_to(r), 0u) << "rank " << r;
  const std::vector<int> rest = RunEpoch(table, 2, 6, AllDone);
  for (size_t i = 0; i < seen.size(); ++i) seen[i] += rest[i];
  ExpectEachOnce(seen);
}

TEST(LeaseTableTest, CreateValidatesArguments) {
  EXPECT_THAT(LeaseTable::Create(0, 64, 1).status().message(), HasSubstr("num_samples = 0"));
  EXPECT_THAT(LeaseTable::Create(uint64_t{1} << 32, 64, 1).status().message(),
              HasSubstr("num_samples = 4294967296"));
  EXPECT_THAT(LeaseTable::Create(100, 0, 1).status().message(), HasSubstr("shard_size = 0"));
  EXPECT_THAT(LeaseTable::Create(uint64_t{1} << 30, 1, 1).status().message(),
              HasSubstr("use a larger shard_size"));
  absl::StatusOr<LeaseTable> table = LeaseTable::Create(1000, 64, 1);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->num_shards(), 16u);
  EXPECT_EQ(table->epoch(), 0);
  EXPECT_EQ(table->consumed_in_epoch(), 0u);
  EXPECT_FALSE(table->epoch_done());
}

TEST(LeaseTableTest, SameSeedSamePlansDifferentSeedDifferentPlans) {
  LeaseTable a = MakeTable(1000, 64, 7);
  LeaseTable b = MakeTable(1000, 64, 7);
  LeaseTable c = MakeTable(1000, 64, 8);
  bool differs = false;
  for (int step = 0; step < 40; ++step) {
    const std::vector<uint32_t> counts = {50, 30, 70};
    const auto pa = a.PlanStep(counts);
    const auto pb = b.PlanStep(counts);
    const auto pc = c.PlanStep(counts);
    ASSERT_EQ(pa, pb) << step;
    differs = differs || pa != pc;
    // Rank 1 is preempted every third step.
    const std::vector<uint32_t> done = {
        static_cast<uint32_t>(pa[0].size()),
        static_cast<uint32_t>(step % 3 == 0 ? pa[1].size() / 2 : pa[1].size()),
        static_cast<uint32_t>(pa[2].size())};
    ASSERT_TRUE(a.CommitStep(done).ok());
    ASSERT_TRUE(b.CommitStep(done).ok());
    std::vector<uint32_t> done_c = done;
    for (size_t r = 0; r < done_c.size(); ++r) {
      done_c[r] = std::min<uint32_t>(done_c[r], static_cast<uint32_t>(pc[r].size()));
    }
    ASSERT_TRUE(c.CommitStep(done_c).ok());
  }
  EXPECT_EQ(a.Serialize(), b.Serialize());
  EXPECT_TRUE(differs);
}

TEST(LeaseTableTest, OrderIsPinnedAcrossPlatforms) {
  // The shuffles are our own Fisher-Yates over std::mt19937_64 (fully specified by the C++
  // standard), so these values hold on every platform; a change here breaks checkpoints and
  // mixed-version jobs.
  LeaseTable table = MakeTable(1000, 64, kSeed);
  const std::vector<uint32_t> plan = table.Plan(0, 8);
  EXPECT_EQ(plan, std::vector<uint32_t>({490, 491, 494, 461, 452, 467, 489, 468}));
}

TEST(LeaseTableTest, EachSampleOncePerEpochForManyRankCounts) {
  for (const int ranks : {1, 2, 3, 8}) {
    LeaseTable table = MakeTable(1000, 64);  // 15 full shards and one of 40
    for (int epoch = 0; epoch < 3; ++epoch) {
      SCOPED_TRACE(testing::Message() << ranks << " ranks, epoch " << epoch);
      ExpectEachOnce(RunEpoch(table, ranks, 50, AllDone));
      EXPECT_EQ(table.epoch(), epoch);
      EXPECT_TRUE(table.epoch_done());
      EXPECT_EQ(table.consumed_in_epoch(), 1000u);
    }
  }
}

TEST(LeaseTableTest, PreemptedRankFinishingFewerStillSeesEachSampleOnce) {
  std::mt19937_64 rng(1234);  // only drives the test's preemption pattern
  const DoneFn preempt_rank1 = [&rng](int rank, uint32_t planned) -> uint32_t {
    if (rank != 1 || planned == 0) return planned;
    return static_cast<uint32_t>(rng() % (planned + 1));
  };
  for (const int ranks : {2, 3, 8}) {
    LeaseTable table = MakeTable(1000, 64);
    for (int epoch = 0; epoch < 3; ++epoch) {
      SCOPED_TRACE(testing::Message() << ranks << " ranks, epoch " << epoch);
      ExpectEachOnce(RunEpoch(table, ranks, 37, preempt_rank1));
    }
  }
}

TEST(LeaseTableTest, FullyPreemptedRankDoesNotStallTheEpoch) {
  // Rank 1 never finishes anything; its leases go back to the queue every step and rank 0
  // finishes the epoch alone.
  LeaseTable table = MakeTable(1000, 64);
  const DoneFn rank1_idle = [](int rank, uint32_t planned) { return rank == 1 ? 0u : planned; };
  ExpectEachOnce(RunEpoch(table, 2, 50, rank1_idle));
  EXPECT_EQ(table.leased_to(1), 0u);
}

TEST(LeaseTableTest, ShortCommitReturnsLeasesToTheQueue) {
  LeaseTable table = MakeTable(1000, 64);
  const std::vector<uint32_t> first = table.Plan(0, 100);
  ASSERT_EQ(first.size(), 100u);
  EXPECT_EQ(table.leased_to(0), 128u);  // two shards
  ASSERT_TRUE(table.Commit(0, 30).ok());
  EXPECT_EQ(table.leased_to(0), 0u);
  EXPECT_EQ(table.consumed_in_epoch(), 30u);
  // Rank 1 now gets rank 0's unfinished samples first, in the same order.
  const std::vector<uint32_t> next = table.Plan(1, 70);
  EXPECT_EQ(next, std::vector<uint32_t>(first.begin() + 30, first.end()));
}

TEST(LeaseTableTest, FullCommitKeepsThePartialLease) {
  LeaseTable table = MakeTable(1000, 64);
  const std::vector<uint32_t> a = table.Plan(0, 100);
  ASSERT_TRUE(table.Commit(0, 100).ok());
  EXPECT_EQ(table.leased_to(0), 28u);
  const std::vector<uint32_t> b = table.Plan(0, 28);
  // The rest of the second shard: all from the same shard as a[64..99].
  for (uint32_t s : b) EXPECT_EQ(s / 64, a[64] / 64);
}

TEST(LeaseTableTest, ReplanWithoutCommitReturnsTheSamePrefix) {
  LeaseTable table = MakeTable(1000, 64);
  const std::vector<uint32_t> a = table.Plan(0, 50);
  const std::vector<uint32_t> b = table.Plan(0, 80);
  ASSERT_EQ(b.size(), 80u);
  EXPECT_EQ(a, std::vector<uint32_t>(b.begin(), b.begin() + 50));
  EXPECT_EQ(table.consumed_in_epoch(), 0u);
}

TEST(LeaseTableTest, RankLeavingMidEpochAndJoiningKeepsExactlyOnce) {
  LeaseTable table = MakeTable(1000, 64);
  std::vector<int> seen(1000, 0);
  auto step = [&](int ranks, uint32_t batch) {
    const auto plans = table.PlanStep(std::vector<uint32_t>(ranks, batch));
    std::vector<uint32_t> done(ranks);
    for (int r = 0; r < ranks; ++r) {
      done[r] = static_cast<uint32_t>(plans[r].size());
      for (uint32_t s : plans[r]) ++seen[s];
    }
    ASSERT_TRUE(table.CommitStep(done).ok());
  };
  for (int i = 0; i < 3; ++i) step(4, 30);

  // A step in which rank 2 dies: the allreduce fails, nobody commits.
  const auto failed = table.PlanStep(std::vector<uint32_t>(4, 30));
  ASSERT_TRUE(table.Remap({0, 1, -1, 2}).ok());
  EXPECT_EQ(table.leased_to(3), 0u);
  // Survivors re-plan: their new plans start with the samples of the failed step.
  const auto replanned = table.PlanStep(std::vector<uint32_t>(3, 30));
  EXPECT_EQ(replanned[0], failed[0]);
  EXPECT_EQ(replanned[1], failed[1]);
  EXPECT_EQ(replanned[2], failed[3]);  // old rank 3 is now rank 2
  for (int r = 0; r < 3; ++r) {
    for (uint32_t s : replanned[r]) ++seen[s];
  }
  ASSERT_TRUE(table.CommitStep({30, 30, 30}).ok());

  for (int i = 0; i < 3; ++i) step(3, 30);
  // Rank 0 leaves between steps (holding a partly used lease); later a new rank joins.
  ASSERT_TRUE(table.Remap({-1, 0, 1}).ok());
  for (int i = 0; i < 2; ++i) step(2, 30);
  ASSERT_TRUE(table.Remap({0, 1}).ok());  // the newcomer is rank 2
  while (!table.epoch_done()) step(3, 30);
  EXPECT_EQ(table.epoch(), 0);
  ExpectEachOnce(seen);
}

TEST(LeaseTableTest, EpochBoundaryNeverMixesEpochs) {
  LeaseTable table = MakeTable(1000, 64);
  auto sizes = [](const std::vector<std::vector<uint32_t>>& plans) {
    std::vector<size_t> out;
    for (const auto& p : plans) out.push_back(p.size());
    return out;
  };
  auto commit_all = [&table](const std::vector<std::vector<uint32_t>>& plans) {
    std::vector<uint32_t> done;
    for (const auto& p : plans) done.push_back(static_cast<uint32_t>(p.size()));
    ASSERT_TRUE(table.CommitStep(done).ok());
  };
  auto plans = table.PlanStep({300, 300, 300});
  EXPECT_EQ(sizes(plans), std::vector<size_t>({300, 300, 300}));
  commit_all(plans);
  plans = table.PlanStep({300, 300, 300});
  // Only 100 samples are left: each rank's held remainder, and the last shard for rank 0.
  EXPECT_EQ(sizes(plans), std::vector<size_t>({60, 20, 20}));
  EXPECT_EQ(table.epoch(), 0);
  commit_all(plans);
  EXPECT_TRUE(table.epoch_done());
  EXPECT_EQ(table.epoch(), 0);
  plans = table.PlanStep({300, 300, 300});
  EXPECT_EQ(table.epoch(), 1);
  EXPECT_EQ(table.consumed_in_epoch(), 0u);
  EXPECT_EQ(sizes(plans), std::vector<size_t>({300, 300, 300}));
}

TEST(LeaseTableTest, RankMidLeaseAtEpochEndLetsOthersProceed) {
  LeaseTable table = MakeTable(1000, 64);
  // Rank 0 takes everything but keeps the last 10 samples leased (a full commit of a plan
  // that stopped short of its lease).
  ASSERT_EQ(table.Plan(0, 990).size(), 990u);
  ASSERT_TRUE(table.Commit(0, 990).ok());
  EXPECT_EQ(table.leased_to(0), 10u);
  // Rank 1 gets nothing but is not blocked; the epoch waits for rank 0's leftovers.
  EXPECT_TRUE(table.Plan(1, 50).empty());
  ASSERT_TRUE(table.Commit(1, 0).ok());
  EXPECT_FALSE(table.epoch_done());
  ASSERT_EQ(table.Plan(0, 50).size(), 10u);
  ASSERT_TRUE(table.Commit(0, 10).ok());
  EXPECT_TRUE(table.epoch_done());
}

TEST(LeaseTableTest, EpochsAdvanceAndReshuffle) {
  LeaseTable table = MakeTable(1000, 64);
  std::vector<uint32_t> order[2];
  for (int epoch = 0; epoch < 2; ++epoch) {
    while (order[epoch].size() < 1000) {
      const std::vector<uint32_t> plan = table.Plan(0, 100);
      ASSERT_EQ(table.epoch(), epoch);
      ASSERT_TRUE(table.Commit(0, static_cast<uint32_t>(plan.size())).ok());
      order[epoch].insert(order[epoch].end(), plan.begin(), plan.end());
    }
    EXPECT_TRUE(table.epoch_done());
  }
  EXPECT_NE(order[0], order[1]);
  for (auto& o : order) {
    // The first shard dealt is one whole shard, shuffled inside.
    const std::vector<uint32_t> head(o.begin(), o.begin() + 64);
    EXPECT_FALSE(std::is_sorted(head.begin(), head.end()));
    for (uint32_t s : head) EXPECT_EQ(s / 64, head[0] / 64);
    std::sort(o.begin(), o.end());
    for (uint32_t i = 0; i < 1000; ++i) ASSERT_EQ(o[i], i);
  }
}

TEST(LeaseTableTest, UnconsumedIsExactlyWhatNoCommitHasCovered) {
  LeaseTable table = MakeTable(100, 8);
  std::vector<bool> consumed(100, false);
  // Rank 0 finishes its plan, rank 1 half of it (its leases go back), rank 2 keeps a plan
  // it has not committed.
  const std::vector<std::vector<uint32_t>> plans = table.PlanStep({10, 10});
  ASSERT_TRUE(table.CommitStep({10, 5}).ok());
  for (uint32_t s : plans[0]) consumed[s] = true;
  for (size_t i = 0; i < 5; ++i) consumed[plans[1][i]] = true;
  table.Plan(2, 7);
  std::vector<uint32_t> expected;
  for (uint32_t s = 0; s < 100; ++s) {
    if (!consumed[s]) expected.push_back(s);
  }
  EXPECT_EQ(table.Unconsumed(), expected);
  // Once the epoch is done nothing is left.
  RunEpoch(table, 3, 16, AllDone);
  EXPECT_TRUE(table.Unconsumed().empty());
}

TEST(LeaseTableTest, CommitErrorsLeaveStateUnchanged) {
  LeaseTable table = MakeTable(1000, 64);
  table.PlanStep({10, 20});
  const std::string before = table.Serialize();
  EXPECT_THAT(table.Commit(0, 11).message(), HasSubstr("rank 0 reports 11 samples done"));
  EXPECT_THAT(table.Commit(5, 1).message(), HasSubstr("its plan had 0"));
  EXPECT_THAT(table.CommitStep({10, 21}).message(), HasSubstr("rank 1 reports 21"));
  EXPECT_THAT(table.CommitStep({10}).message(), HasSubstr("only 1 ranks reported"));
  EXPECT_EQ(table.Serialize(), before);
  EXPECT_TRUE(table.CommitStep({10, 20}).ok());
}

TEST(LeaseTableTest, RemapErrorsLeaveStateUnchanged) {
  LeaseTable table = MakeTable(1000, 64);
  table.PlanStep({10, 20, 30});
  const std::string before = table.Serialize();
  EXPECT_THAT(table.Remap({0, 0, 1}).message(), HasSubstr("more than one"));
  EXPECT_THAT(table.Remap({0, -2, 1}).message(), HasSubstr("must be >= -1"));
  EXPECT_THAT(table.Remap({0, 1}).message(), HasSubstr("rank 2 holds leases"));
  EXPECT_EQ(table.Serialize(), before);
}

TEST(LeaseTableTest, SerializeRoundTripContinuesIdentically) {
  LeaseTable original = MakeTable(1000, 64);
  // Build a state with returned leases, partial leases and an uncommitted plan.
  for (int i = 0; i < 5; ++i) {
    const auto plans = original.PlanStep({40, 25, 33});
    ASSERT_TRUE(original
                    .CommitStep({static_cast<uint32_t>(plans[0].size()),
                                 static_cast<uint32_t>(plans[1].size() / 2),
                                 static_cast<uint32_t>(plans[2].size())})
                    .ok());
  }
  ASSERT_TRUE(original.Remap({0, -1, 1}).ok());
  original.PlanStep({40, 25});

  const std::string bytes = original.Serialize();
  absl::StatusOr<LeaseTable> restored = LeaseTable::Deserialize(bytes);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->Serialize(), bytes);
  EXPECT_EQ(restored->epoch(), original.epoch());
  EXPECT_EQ(restored->consumed_in_epoch(), original.consumed_in_epoch());

  ASSERT_TRUE(original.CommitStep({40, 25}).ok());
  ASSERT_TRUE(restored->CommitStep({40, 25}).ok());
  while (original.epoch() < 2) {
    const auto a = original.PlanStep({64, 17});
    const auto b = restored->PlanStep({64, 17});
    ASSERT_EQ(a, b);
    const std::vector<uint32_t> done = {static_cast<uint32_t>(a[0].size()),
                                        static_cast<uint32_t>(a[1].size())};
    ASSERT_TRUE(original.CommitStep(done).ok());
    ASSERT_TRUE(restored->CommitStep(done).ok());
  }
  EXPECT_EQ(original.Serialize(), restored->Serialize());
}

std::string WithCrc(std::string body_and_old_crc) {
  std::string body = body_and_old_crc.substr(0, body_and_old_crc.size() - 4);
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<char>(crc >> (8 * i)));
  return body;
}

TEST(LeaseTableTest, CorruptSerializedStateIsAnError) {
  LeaseTable table = MakeTable(1000, 64);
  const auto plans = table.PlanStep({40, 25});
  ASSERT_TRUE(table.CommitStep({40, 10}).ok());
  table.PlanStep({40, 25});
  const std::string good = table.Serialize();
  ASSERT_TRUE(LeaseTable::Deserialize(good).ok());

  EXPECT_FALSE(LeaseTable::Deserialize("").ok());
  for (size_t len = 0; len < good.size(); ++len) {
    EXPECT_FALSE(LeaseTable::Deserialize(good.substr(0, len)).ok()) << len;
  }
  EXPECT_FALSE(LeaseTable::Deserialize(good + '\0').ok());
  for (size_t i = 0; i < good.size(); ++i) {
    for (const unsigned char flip : {0x01, 0x80}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] ^ flip);
      EXPECT_FALSE(LeaseTable::Deserialize(bad).ok()) << i;
    }
  }
  EXPECT_THAT(LeaseTable::Deserialize("XXXX" + good.substr(4)).status().message(),
              HasSubstr("bad magic"));

  // Structurally wrong content under a valid CRC.
  std::string zero_shard_size = good;
  for (int i = 16; i < 20; ++i) zero_shard_size[i] = 0;
  EXPECT_THAT(LeaseTable::Deserialize(WithCrc(zero_shard_size)).status().message(),
              HasSubstr("shard_size = 0"));
  std::string bad_consumed = good;
  bad_consumed[36] = static_cast<char>(bad_consumed[36] + 1);
  EXPECT_THAT(LeaseTable::Deserialize(WithCrc(bad_consumed)).status().message(),
              HasSubstr("consumed_in_epoch"));
  std::string bad_next = good;
  bad_next[44] = static_cast<char>(0);  // next_shard 0: the leased shards were never dealt
  EXPECT_THAT(LeaseTable::Deserialize(WithCrc(bad_next)).status().message(),
              HasSubstr("not dealt yet"));
  std::string huge_count = good;
  for (int i = 52; i < 56; ++i) huge_count[i] = '\xff';  // number of returned leases
  EXPECT_THAT(LeaseTable::Deserialize(WithCrc(huge_count)).status().message(),
              HasSubstr("truncated"));
}

}  // namespace
}  // namespace cosched::worker
