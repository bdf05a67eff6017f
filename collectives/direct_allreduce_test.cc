// DirectLink and DirectAllreduce with both sides as threads over an InMemoryStore and real
// sockets on 127.0.0.1: sums and bits, a peer out of step, Abort, a peer that leaves or sends
// junk, a stray connection, a superseded or timed-out rendezvous.
#include "collectives/direct_allreduce.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "collectives/memory_store.h"

namespace cosched::collectives {
namespace {

using ::testing::HasSubstr;

constexpr char kKey[] = "job/test/gen/0/direct";
constexpr absl::Duration kTimeout = absl::Seconds(30);

// Both sides of a link, connected.
struct Linked {
  std::unique_ptr<DirectLink> side0;
  std::unique_ptr<DirectLink> side1;
};

Linked Connect(InMemoryStore& store) {
  auto side0 = std::async(std::launch::async, [&] {
    return DirectLink::Connect(store, kKey, 0, "127.0.0.1", kTimeout, {});
  });
  auto side1 = DirectLink::Connect(store, kKey, 1, "", kTimeout, {});
  auto first = side0.get();
  EXPECT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(side1.ok()) << side1.status();
  if (!first.ok() || !side1.ok()) return {};
  return {*std::move(first), *std::move(side1)};
}

// Values whose sums are inexact, different on each side.
std::vector<float> SideData(int side, size_t n, int round) {
  std::vector<float> data(n);
  for (size_t i = 0; i < n; ++i) {
    data[i] = 1.0f / static_cast<float>(side * 11 + static_cast<int>(i % 17) + round + 3);
  }
  return data;
}

// Side 0's listening address, as published: "<token> <host> <port>".
sockaddr_in PublishedAddress(InMemoryStore& store, std::string* token = nullptr) {
  auto value = store.Get(kKey, kTimeout);
  EXPECT_TRUE(value.ok()) << value.status();
  const std::vector<std::string> fields =
      absl::StrSplit(std::string(value->begin(), value->end()), ' ');
  EXPECT_EQ(fields.size(), 3u);
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(fields.at(2), &port));
  if (token != nullptr) *token = fields.at(0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, fields.at(1).c_str(), &address.sin_addr);
  return address;
}

// A plain socket connected to `address` (the test plays a peer that misbehaves).
int Dial(const sockaddr_in& address) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0);
  return fd;
}

void SendText(int fd, const std::string& text) {
  ASSERT_EQ(::send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

TEST(DirectAllreduceTest, SumsWholeAndByHalvesWithTheSameBitsOnBothSides) {
  InMemoryStore store;
  Linked linked = Connect(store);
  ASSERT_NE(linked.side0, nullptr);
  DirectAllreduce side0(std::move(linked.side0));
  DirectAllreduce side1(std::move(linked.side1));
  constexpr size_t kHalvesFrom = DirectAllreduce::kWholeBelowBytes / sizeof(float);
  // Whole (odd and tiny sizes included), the first size by halves, and halves of several
  // summing pieces with a side of each parity.
  const std::vector<size_t> sizes = {1, 2, 1001, kHalvesFrom - 1, kHalvesFrom, 300001};
  for (int round = 0; round < 2; ++round) {  // a second pass reuses the link and buffers
    for (size_t n : sizes) {
      SCOPED_TRACE("floats " + std::to_string(n) + ", round " + std::to_string(round));
      std::vector<float> data0 = SideData(0, n, round);
      std::vector<float> data1 = SideData(1, n, round);
      std::vector<float> expected(n);
      for (size_t i = 0; i < n; ++i) expected[i] = data0[i] + data1[i];
      auto other = std::async(std::launch::async,
                              [&] { return side1.Run(absl::MakeSpan(data1), kTimeout); });
      ASSERT_TRUE(side0.Run(absl::MakeSpan(data0), kTimeout).ok());
      ASSERT_TRUE(other.get().ok());
      ASSERT_EQ(std::memcmp(data0.data(), expected.data(), n * sizeof(float)), 0);
      ASSERT_EQ(std::memcmp(data1.data(), expected.data(), n * sizeof(float)), 0);
    }
  }
}

TEST(DirectAllreduceTest, SidesOutOfStepFailWithDataLossNamingBothSizes) {
  InMemoryStore store;
  Linked linked = Connect(store);
  ASSERT_NE(linked.side0, nullptr);
  DirectAllreduce side0(std::move(linked.side0));
  DirectAllreduce side1(std::move(linked.side1));
  std::vector<float> small(1000, 1.0f);
  std::vector<float> large(2000, 1.0f);
  auto other =
      std::async(std::launch::async, [&] { return side1.Run(absl::MakeSpan(large), kTimeout); });
  const absl::Status status = side0.Run(absl::MakeSpan(small), kTimeout);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(), HasSubstr("#0 of 8000 bytes; this side #0 of 4000 bytes"));
  EXPECT_EQ(other.get().code(), absl::StatusCode::kDataLoss);
}

TEST(DirectAllreduceTest, AbortEndsARunThatWaitsAndThePeerFailsToo) {
  InMemoryStore store;
  Linked linked = Connect(store);
  ASSERT_NE(linked.side0, nullptr);
  DirectAllreduce side0(std::move(linked.side0));
  DirectAllreduce side1(std::move(linked.side1));
  std::vector<float> data(1 << 20, 1.0f);  // halves: side 0 waits for side 1's half
  auto waiting =
      std::async(std::launch::async, [&] { return side0.Run(absl::MakeSpan(data), kTimeout); });
  side0.Abort();  // whether the run has started or not, it ends ABORTED
  EXPECT_EQ(waiting.get().code(), absl::StatusCode::kAborted);
  std::vector<float> peer(1 << 20, 1.0f);
  const absl::Status status = side1.Run(absl::MakeSpan(peer), kTimeout);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

TEST(DirectAllreduceTest, APeerThatLeavesFailsTheRunNamingIt) {
  InMemoryStore store;
  Linked linked = Connect(store);
  ASSERT_NE(linked.side0, nullptr);
  DirectAllreduce side0(std::move(linked.side0));
  linked.side1.reset();  // the peer's process is gone: its socket closes
  std::vector<float> data(4096, 1.0f);
  const absl::Status status = side0.Run(absl::MakeSpan(data), kTimeout);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("127.0.0.1:"));
}

// The test plays side 1: first a connection that closes without a word, then one that speaks
// another protocol (turned away at its first byte, not left to time out), then one with the
// token that sends junk instead of an operation's header.
TEST(DirectAllreduceTest, StrayConnectionsAreTurnedAwayAndJunkIsDataLossNotACrash) {
  InMemoryStore store;
  auto side0 = std::async(std::launch::async, [&] {
    return DirectLink::Connect(store, kKey, 0, "127.0.0.1", kTimeout, {});
  });
  std::string token;
  const sockaddr_in address = PublishedAddress(store, &token);
  ::close(Dial(address));
  const int stray = Dial(address);
  SendText(stray, "GET / HTTP/1.1\r\n");
  const int peer = Dial(address);
  SendText(peer, "cosched-direct-1 " + token);
  auto link = side0.get();
  ASSERT_TRUE(link.ok()) << link.status();
  char byte = 0;
  EXPECT_EQ(::recv(stray, &byte, 1, 0), 0) << "the stray connection should have been closed";
  SendText(peer, std::string(24, 'x'));
  DirectAllreduce allreduce(*std::move(link));
  std::vector<float> data(10, 1.0f);
  const absl::Status status = allreduce.Run(absl::MakeSpan(data), kTimeout);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_THAT(status.message(), HasSubstr("not a direct allreduce"));
  ::close(stray);
  ::close(peer);
}

TEST(DirectLinkTest, SupersededWhileWaitingForThePeerIsCancelled) {
  InMemoryStore store;
  std::stop_source superseded;
  auto side0 = std::async(std::launch::async, [&] {
    return DirectLink::Connect(store, kKey, 0, "127.0.0.1", kTimeout, superseded.get_token());
  });
  PublishedAddress(store);  // side 0 listens and waits
  superseded.request_stop();
  const absl::Status status = side0.get().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
  EXPECT_THAT(status.message(), HasSubstr(kKey));
}

TEST(DirectLinkTest, APeerThatNeverComesIsDeadlineExceeded) {
  InMemoryStore store;
  const absl::Status status =
      DirectLink::Connect(store, kKey, 0, "127.0.0.1", absl::Milliseconds(100), {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(status.message(), HasSubstr("waiting for the peer to connect to 127.0.0.1:"));
}

TEST(DirectLinkTest, BadArgumentsAndAMalformedAddressAreRefused) {
  InMemoryStore store;
  EXPECT_EQ(DirectLink::Connect(store, kKey, 2, "127.0.0.1", kTimeout, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store.Set(kKey, {'j', 'u', 'n', 'k'}).ok());
  const absl::Status status = DirectLink::Connect(store, kKey, 1, "", kTimeout, {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("not '<token> <host> <port>'"));
}

}  // namespace
}  // namespace cosched::collectives
