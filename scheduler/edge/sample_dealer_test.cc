#include "scheduler/edge/sample_dealer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace cosched::scheduler::edge {
namespace {

using ::testing::HasSubstr;

// Every sample is consumed exactly once per epoch while replicas settle all, settle part, or
// give back everything they were dealt, in a seeded random interleaving: after the dealer's
// three epochs are dealt and settled, every sample was trained exactly three times, and
// whenever k epochs count as completed every sample was trained at least k times.
TEST(SampleDealerTest, EverySampleOncePerEpochWithReleasesAndPartialSettles) {
  constexpr uint64_t kSamples = 1000;
  constexpr int64_t kEpochs = 3;
  SampleDealer dealer(kSamples, /*seed=*/7, kEpochs);
  const std::vector<std::string> replicas = {"car-1", "car-2", "car-3", "datacenter"};
  std::mt19937 rng(11);
  std::map<std::string, std::vector<uint32_t>> held;
  std::vector<int> trained_times(kSamples, 0);
  uint64_t trained_total = 0;
  int step = 0;
  for (; step < 20000; ++step) {
    const std::string& replica = replicas[rng() % replicas.size()];
    auto it = held.find(replica);
    if (it == held.end()) {
      absl::StatusOr<std::vector<uint32_t>> dealt = dealer.Deal(replica, 1 + rng() % 60);
      ASSERT_TRUE(dealt.ok()) << dealt.status();
      for (uint32_t sample : *dealt) ASSERT_LT(sample, kSamples);
      if (!dealt->empty()) held[replica] = *dealt;
      EXPECT_EQ(dealer.held_by(replica), dealt->size());
      if (dealt->empty() && held.empty()) break;  // every epoch dealt and settled
      continue;
    }
    const std::vector<uint32_t> samples = it->second;
    const int choice = static_cast<int>(rng() % 3);
    if (choice == 0) {
      dealer.Release(replica);
    } else {
      std::vector<uint32_t> unfinished;
      if (choice == 2) {
        for (uint32_t p = 0; p < samples.size(); ++p) {
          if (rng() % 3 == 0) unfinished.push_back(p);
        }
      }
      std::set<uint32_t> back(unfinished.begin(), unfinished.end());
      absl::StatusOr<uint64_t> trained = dealer.Settle(replica, unfinished);
      ASSERT_TRUE(trained.ok()) << trained.status();
      EXPECT_EQ(*trained, samples.size() - unfinished.size());
      for (uint32_t p = 0; p < samples.size(); ++p) {
        if (back.count(p) == 0) {
          ++trained_times[samples[p]];
          ++trained_total;
        }
      }
    }
    held.erase(it);
    EXPECT_EQ(dealer.held_by(replica), 0u);
    EXPECT_EQ(dealer.consumed(), trained_total);
    const int least = *std::min_element(trained_times.begin(), trained_times.end());
    ASSERT_GE(least, dealer.epochs_completed()) << "an epoch completed before all its samples";
    ASSERT_LE(*std::max_element(trained_times.begin(), trained_times.end()), kEpochs);
  }
  ASSERT_LT(step, 20000) << "the epochs never ran out";
  EXPECT_EQ(dealer.epochs_completed(), kEpochs);
  EXPECT_EQ(trained_total, kSamples * kEpochs);
  for (uint32_t sample = 0; sample < kSamples; ++sample) {
    ASSERT_EQ(trained_times[sample], kEpochs) << "sample " << sample;
  }
}

TEST(SampleDealerTest, ReturnedSamplesAreDealtFirst) {
  SampleDealer dealer(100, 3);
  std::vector<uint32_t> first = *dealer.Deal("car-1", 10);
  std::vector<uint32_t> second = *dealer.Deal("car-2", 5);
  dealer.Release("car-1");
  ASSERT_TRUE(dealer.Settle("car-2", {1, 3}).ok());
  std::vector<uint32_t> third = *dealer.Deal("car-3", 14);
  std::vector<uint32_t> expected = first;
  expected.push_back(second[1]);
  expected.push_back(second[3]);
  expected.push_back(third[12]);  // then the epoch's next sample
  expected.push_back(third[13]);
  EXPECT_EQ(third, expected);
  EXPECT_EQ(dealer.consumed(), 3u);
}

// No replica waits for an epoch's last samples to come back: the next epoch is dealt, and the
// old epoch still completes first, once its last sample is trained.
TEST(SampleDealerTest, TheNextEpochIsDealtWhileTheLastSamplesAreOut) {
  SampleDealer dealer(10, 5);
  const std::vector<uint32_t> a = *dealer.Deal("a", 8);
  const std::vector<uint32_t> b = *dealer.Deal("b", 8);  // epoch 0's last two, six of epoch 1
  ASSERT_EQ(b.size(), 8u);
  EXPECT_EQ(std::set<uint32_t>(b.begin() + 2, b.end()).size(), 6u);
  EXPECT_EQ(dealer.Deal("c", 4)->size(), 4u);  // the rest of epoch 1
  ASSERT_TRUE(dealer.Settle("a", {}).ok());
  ASSERT_TRUE(dealer.Settle("c", {}).ok());
  // Epoch 1 has 4 of 10 trained, epoch 0 8: neither is complete.
  EXPECT_EQ(dealer.epochs_completed(), 0);
  EXPECT_DOUBLE_EQ(dealer.epochs_done(), 1.2);
  // b gives back one sample of each epoch; each goes back to its own epoch, oldest first.
  ASSERT_TRUE(dealer.Settle("b", {1, 2}).ok());
  EXPECT_EQ(dealer.epochs_completed(), 0);
  const std::vector<uint32_t> again = *dealer.Deal("d", 3);
  EXPECT_EQ(again[0], b[1]);    // epoch 0's
  EXPECT_EQ(again[1], b[2]);    // epoch 1's
  EXPECT_EQ(again.size(), 3u);  // then epoch 2 starts
  ASSERT_TRUE(dealer.Settle("d", {}).ok());
  EXPECT_EQ(dealer.epochs_completed(), 2);
  EXPECT_EQ(dealer.consumed(), 21u);
}

TEST(SampleDealerTest, NothingPastTheLastEpochIsDealt) {
  SampleDealer dealer(10, 5, /*max_epochs=*/1);
  EXPECT_EQ(dealer.Deal("a", 8)->size(), 8u);
  EXPECT_EQ(dealer.Deal("b", 8)->size(), 2u);  // the epoch's last two
  EXPECT_TRUE(dealer.Deal("c", 8)->empty());
  EXPECT_EQ(dealer.held_by("c"), 0u);
  ASSERT_TRUE(dealer.Settle("a", {}).ok());
  ASSERT_TRUE(dealer.Settle("b", {1}).ok());  // one comes back and is dealt again
  EXPECT_EQ(dealer.epochs_completed(), 0);
  EXPECT_DOUBLE_EQ(dealer.epochs_done(), 0.9);
  EXPECT_EQ(dealer.Deal("c", 8)->size(), 1u);
  ASSERT_TRUE(dealer.Settle("c", {}).ok());
  EXPECT_EQ(dealer.epochs_completed(), 1);
  EXPECT_DOUBLE_EQ(dealer.epochs_done(), 1.0);
  EXPECT_TRUE(dealer.Deal("a", 4)->empty());
}

std::vector<uint32_t> Epochs(uint64_t seed, int epochs) {
  SampleDealer dealer(50, seed);
  std::vector<uint32_t> all;
  for (int i = 0; i < epochs * 5; ++i) {
    std::vector<uint32_t> dealt = *dealer.Deal("car", 10);
    all.insert(all.end(), dealt.begin(), dealt.end());
    EXPECT_TRUE(dealer.Settle("car", {}).ok());
  }
  return all;
}

TEST(SampleDealerTest, TheOrderDependsOnlyOnTheSeedAndEpoch) {
  const std::vector<uint32_t> a = Epochs(42, 2);
  EXPECT_EQ(a, Epochs(42, 2));
  EXPECT_NE(a, Epochs(43, 2));
  // Each epoch is a permutation, and the two epochs' orders differ.
  std::vector<uint32_t> e0(a.begin(), a.begin() + 50);
  std::vector<uint32_t> e1(a.begin() + 50, a.end());
  EXPECT_NE(e0, e1);
  std::sort(e0.begin(), e0.end());
  std::sort(e1.begin(), e1.end());
  for (uint32_t i = 0; i < 50; ++i) {
    EXPECT_EQ(e0[i], i);
    EXPECT_EQ(e1[i], i);
  }
}

TEST(SampleDealerTest, BadUnfinishedPositionsChangeNothing) {
  SampleDealer dealer(100, 1);
  const std::vector<uint32_t> dealt = *dealer.Deal("car-1", 10);
  absl::StatusOr<uint64_t> out_of_range = dealer.Settle("car-1", {2, 10});
  ASSERT_EQ(out_of_range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out_of_range.status().message(), HasSubstr("position 10"));
  EXPECT_THAT(out_of_range.status().message(), HasSubstr("car-1"));
  absl::StatusOr<uint64_t> repeated = dealer.Settle("car-1", {4, 4});
  ASSERT_EQ(repeated.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(repeated.status().message(), HasSubstr("repeated"));
  EXPECT_EQ(dealer.held_by("car-1"), 10u);
  EXPECT_EQ(dealer.consumed(), 0u);
  // Nothing went back: the next deal continues with the epoch's order.
  EXPECT_EQ(dealer.Deal("car-2", 1)->size(), 1u);
  absl::StatusOr<uint64_t> trained = dealer.Settle("car-1", {9});
  ASSERT_TRUE(trained.ok());
  EXPECT_EQ(*trained, 9u);
  EXPECT_EQ(*dealer.Deal("car-3", 1), std::vector<uint32_t>{dealt[9]});
}

TEST(SampleDealerTest, DealingTwiceWithoutSettlingIsRefused) {
  SampleDealer dealer(100, 1);
  ASSERT_EQ(dealer.Deal("car-1", 10)->size(), 10u);
  absl::StatusOr<std::vector<uint32_t>> again = dealer.Deal("car-1", 10);
  ASSERT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("car-1"));
  EXPECT_EQ(dealer.held_by("car-1"), 10u);
  dealer.Release("car-1");
  EXPECT_TRUE(dealer.Deal("car-1", 10).ok());
}

TEST(SampleDealerTest, SettlingNothingHeldIsHarmless) {
  SampleDealer dealer(10, 1);
  absl::StatusOr<uint64_t> trained = dealer.Settle("nobody", {});
  ASSERT_TRUE(trained.ok());
  EXPECT_EQ(*trained, 0u);
  EXPECT_FALSE(dealer.Settle("nobody", {0}).ok());
  dealer.Release("nobody");
  EXPECT_EQ(dealer.consumed(), 0u);
}

}  // namespace
}  // namespace cosched::scheduler::edge
