// ConnectDirectAlgorithm with every party a thread over an InMemoryStore and real sockets on
// 127.0.0.1: the pair (2 parties) and recursive halving and doubling (4 and 8) give every
// party the sum with the same bits, whole vectors and halves alike; an aborted party, one that
// leaves and one out of step fail every party at once. (The ring, for other counts, has its
// own tests in direct_ring_test.cc.)
#include "collectives/direct_algorithm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "collectives/direct_allreduce.h"
#include "collectives/direct_test_support.h"
#include "collectives/memory_store.h"

namespace cosched::collectives {
namespace {

using ::testing::AnyOf;
using testing_support::ExpectEveryPartyGetsTheSumWithTheSameBits;
using testing_support::OnEveryParty;

constexpr char kPrefix[] = "job/test/gen/0/direct/";
constexpr absl::Duration kTimeout = absl::Seconds(30);

std::vector<std::unique_ptr<LinkedAllreduce>> ConnectAll(InMemoryStore& store, int parties) {
  std::vector<std::future<absl::StatusOr<std::unique_ptr<LinkedAllreduce>>>> connecting;
  for (int p = 0; p < parties; ++p) {
    connecting.push_back(std::async(std::launch::async, [&store, p, parties] {
      return ConnectDirectAlgorithm(store, kPrefix, p, parties, "127.0.0.1", kTimeout, {});
    }));
  }
  std::vector<std::unique_ptr<LinkedAllreduce>> connected;
  for (auto& party : connecting) {
    absl::StatusOr<std::unique_ptr<LinkedAllreduce>> one = party.get();
    EXPECT_TRUE(one.ok()) << one.status();
    if (one.ok()) connected.push_back(*std::move(one));
  }
  if (connected.size() != static_cast<size_t>(parties)) connected.clear();
  return connected;
}

class DirectAlgorithmSums : public ::testing::TestWithParam<int> {};

TEST_P(DirectAlgorithmSums, EveryPartyGetsTheSumWithTheSameBits) {
  const int parties = GetParam();
  InMemoryStore store;
  std::vector<std::unique_ptr<LinkedAllreduce>> all = ConnectAll(store, parties);
  ASSERT_EQ(all.size(), static_cast<size_t>(parties));
  // Whole vectors at every level (fewer floats than parties, odd sizes); halves at the outer
  // level only, and at every level; halves of several summing pieces.
  const size_t whole_below = DirectAllreduce::kWholeBelowBytes / sizeof(float);
  const std::vector<size_t> sizes = {1,
                                     3,
                                     1001,
                                     whole_below + 1,
                                     whole_below * parties + 5,
                                     DirectAllreduce::kSumFloats * parties * 4 + 7};
  std::vector<LinkedAllreduce*> each;
  for (const auto& party : all) each.push_back(party.get());
  ExpectEveryPartyGetsTheSumWithTheSameBits(each, sizes, kTimeout);
}

INSTANTIATE_TEST_SUITE_P(Parties, DirectAlgorithmSums, ::testing::Values(2, 4, 8),
                         [](const auto& test_param) {
                           return std::to_string(test_param.param) + "parties";
                         });

// Every party fails, whichever level the failure is at, and none by its timeout (that would be
// DEADLINE_EXCEEDED, which is not among the codes accepted here).
void ExpectAllFailSoon(const std::vector<absl::Status>& statuses, int failed_party,
                       absl::StatusCode failed_code) {
  for (int p = 0; p < static_cast<int>(statuses.size()); ++p) {
    if (p == failed_party) {
      EXPECT_EQ(statuses[p].code(), failed_code) << statuses[p];
      continue;
    }
    EXPECT_THAT(statuses[p].code(), AnyOf(absl::StatusCode::kUnavailable,
                                          absl::StatusCode::kAborted, absl::StatusCode::kDataLoss))
        << "party " << p << ": " << statuses[p];
  }
}

TEST(DirectHalvingDoublingTest, AbortingAnInnerOrOuterPartyFailsEveryPartyAtOnce) {
  // Party 3 of 8 is in pairs with 2 (innermost), 1 and 7 (outermost).
  for (int aborted : {3, 7}) {
    SCOPED_TRACE("party " + std::to_string(aborted) + " aborts");
    InMemoryStore store;
    std::vector<std::unique_ptr<LinkedAllreduce>> all = ConnectAll(store, 8);
    ASSERT_EQ(all.size(), 8u);
    all[aborted]->Abort();
    const std::vector<absl::Status> statuses = OnEveryParty(8, [&](int p) {
      std::vector<float> data(1 << 20, 1.0f);
      return all[p]->Run(absl::MakeSpan(data), kTimeout);
    });
    ExpectAllFailSoon(statuses, aborted, absl::StatusCode::kAborted);
  }
}

TEST(DirectHalvingDoublingTest, APartyThatLeavesFailsEveryOtherParty) {
  InMemoryStore store;
  std::vector<std::unique_ptr<LinkedAllreduce>> all = ConnectAll(store, 4);
  ASSERT_EQ(all.size(), 4u);
  all[1].reset();  // its process is gone: its sockets close
  const std::vector<absl::Status> statuses = OnEveryParty(4, [&](int p) {
    if (p == 1) return absl::OkStatus();
    std::vector<float> data(300000, 1.0f);
    return all[p]->Run(absl::MakeSpan(data), kTimeout);
  });
  ExpectAllFailSoon(statuses, 1, absl::StatusCode::kOk);
}

TEST(DirectHalvingDoublingTest, PartiesOutOfStepAllFailAndOneNamesBothSizes) {
  InMemoryStore store;
  std::vector<std::unique_ptr<LinkedAllreduce>> all = ConnectAll(store, 4);
  ASSERT_EQ(all.size(), 4u);
  const std::vector<absl::Status> statuses = OnEveryParty(4, [&](int p) {
    std::vector<float> data(p == 2 ? 2000 : 1000, 1.0f);
    return all[p]->Run(absl::MakeSpan(data), kTimeout);
  });
  bool named = false;
  for (const absl::Status& status : statuses) {
    EXPECT_THAT(status.code(), AnyOf(absl::StatusCode::kDataLoss, absl::StatusCode::kUnavailable,
                                     absl::StatusCode::kAborted))
        << status;
    named |= absl::StrContains(status.message(), "of 8000 bytes") &&
             absl::StrContains(status.message(), "of 4000 bytes");
  }
  EXPECT_TRUE(named) << "no party named both sizes";
}

}  // namespace
}  // namespace cosched::collectives
