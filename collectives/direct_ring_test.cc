// DirectRing with every party a thread over an InMemoryStore and real sockets on 127.0.0.1:
// sums and bits for 3 to 5 parties and sizes down to fewer floats than parties, parties out
// of step, Abort, a party that leaves, a superseded or bad rendezvous.
#include "collectives/direct_ring.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "collectives/direct_test_support.h"
#include "collectives/memory_store.h"

namespace cosched::collectives {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using testing_support::ExpectEveryPartyGetsTheSumWithTheSameBits;
using testing_support::OnEveryParty;

constexpr char kPrefix[] = "job/test/gen/0/direct/ring/";
constexpr absl::Duration kTimeout = absl::Seconds(30);

std::vector<std::unique_ptr<DirectRing>> ConnectRing(InMemoryStore& store, int parties) {
  std::vector<std::future<absl::StatusOr<std::unique_ptr<DirectRing>>>> connecting;
  for (int p = 0; p < parties; ++p) {
    connecting.push_back(std::async(std::launch::async, [&store, p, parties] {
      return DirectRing::Connect(store, kPrefix, p, parties, "127.0.0.1", kTimeout, {});
    }));
  }
  std::vector<std::unique_ptr<DirectRing>> ring;
  for (auto& party : connecting) {
    absl::StatusOr<std::unique_ptr<DirectRing>> connected = party.get();
    EXPECT_TRUE(connected.ok()) << connected.status();
    if (connected.ok()) ring.push_back(*std::move(connected));
  }
  if (ring.size() != static_cast<size_t>(parties)) ring.clear();
  return ring;
}

class DirectRingSums : public ::testing::TestWithParam<int> {};

TEST_P(DirectRingSums, EveryPartyGetsTheSumWithTheSameBits) {
  const int parties = GetParam();
  InMemoryStore store;
  std::vector<std::unique_ptr<DirectRing>> ring = ConnectRing(store, parties);
  ASSERT_EQ(ring.size(), static_cast<size_t>(parties));
  // Fewer floats than parties (empty chunks), odd sizes, and chunks of several summing pieces.
  const size_t pieces = DirectRing::kSumFloats * static_cast<size_t>(parties) * 3;
  const std::vector<size_t> sizes = {1, 2, 1001, pieces + 7, 300001};
  std::vector<LinkedAllreduce*> all;
  for (const auto& party : ring) all.push_back(party.get());
  ExpectEveryPartyGetsTheSumWithTheSameBits(all, sizes, kTimeout);
}

INSTANTIATE_TEST_SUITE_P(Parties, DirectRingSums, ::testing::Values(3, 4, 5),
                         [](const auto& test_param) {
                           return std::to_string(test_param.param) + "parties";
                         });

TEST(DirectRingTest, PartiesOutOfStepAllFailAndOneNamesBothSizes) {
  InMemoryStore store;
  std::vector<std::unique_ptr<DirectRing>> ring = ConnectRing(store, 3);
  ASSERT_EQ(ring.size(), 3u);
  const std::vector<absl::Status> statuses = OnEveryParty(3, [&](int p) {
    std::vector<float> data(p == 1 ? 2000 : 1000, 1.0f);
    return ring[p]->Run(absl::MakeSpan(data), kTimeout);
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

TEST(DirectRingTest, AbortingOnePartyFailsEveryPartyAtOnce) {
  InMemoryStore store;
  std::vector<std::unique_ptr<DirectRing>> ring = ConnectRing(store, 4);
  ASSERT_EQ(ring.size(), 4u);
  ring[2]->Abort();  // before or during the run: either way nobody waits for the timeout
  const std::vector<absl::Status> statuses = OnEveryParty(4, [&](int p) {
    std::vector<float> data(1 << 20, 1.0f);
    return ring[p]->Run(absl::MakeSpan(data), kTimeout);
  });
  EXPECT_EQ(statuses[2].code(), absl::StatusCode::kAborted) << statuses[2];
  for (int p : {0, 1, 3}) {
    EXPECT_THAT(statuses[p].code(),
                AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kAborted))
        << "party " << p << ": " << statuses[p];
  }
}

TEST(DirectRingTest, APartyThatLeavesFailsItsNeighboursNamingIt) {
  InMemoryStore store;
  std::vector<std::unique_ptr<DirectRing>> ring = ConnectRing(store, 3);
  ASSERT_EQ(ring.size(), 3u);
  ring[1].reset();  // its process is gone: both its sockets close
  const std::vector<absl::Status> statuses = OnEveryParty(3, [&](int p) {
    if (p == 1) return absl::OkStatus();
    std::vector<float> data(4096, 1.0f);
    return ring[p]->Run(absl::MakeSpan(data), kTimeout);
  });
  for (int p : {0, 2}) {
    EXPECT_THAT(statuses[p].code(),
                AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kAborted))
        << "party " << p << ": " << statuses[p];
  }
  // Party 2 receives from party 1: its error names the peer's address.
  EXPECT_THAT(statuses[2].message(), HasSubstr("127.0.0.1:")) << statuses[2];
}

TEST(DirectRingTest, SupersededWhileConnectingIsCancelledAndBadArgumentsAreRefused) {
  InMemoryStore store;
  std::stop_source superseded;
  auto waiting = std::async(std::launch::async, [&] {
    return DirectRing::Connect(store, kPrefix, 0, 3, "127.0.0.1", kTimeout, superseded.get_token());
  });
  ASSERT_TRUE(store.Get(std::string(kPrefix) + "0", kTimeout).ok());  // it listens and waits
  superseded.request_stop();
  const absl::Status status = waiting.get().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_EQ(DirectRing::Connect(store, kPrefix, 0, 2, "127.0.0.1", kTimeout, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DirectRing::Connect(store, kPrefix, 3, 3, "127.0.0.1", kTimeout, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cosched::collectives
