// File: scheduler/kv/rendezvous_test.cc
// The rendezvous service on a real gRPC server on 127.0.0.1 and collectives' RendezvousClient
// (the client the workers use) against it:
// long polls, timeouts naming keys, the server's wait cap, cancellation, closing and shutdown
// ending waits, unreachable and malformed addresses, and gloo groups of four ranks (threads)
// forming through the scheduler for two generations.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collectives/collective_group.h"
#include "collectives/gloo_group.h"
#include "collectives/rendezvous_client.h"
#include "common/rendezvous_keys.h"
#include "scheduler/kv/kv_table.h"
#include "scheduler/kv/rendezvous_service.h"

namespace cosched::scheduler {
namespace {

using ::cosched::collectives::RendezvousClient;
using ::cosched::collectives::RendezvousClientOptions;
using ::testing::HasSubstr;

std::vector<char> Bytes(absl::string_view s) { return std::vector<char>(s.begin(), s.end()); }

// Waits, without sleeping, until `condition` holds; false if `timeout` passes first.
bool Eventually(const std::function<bool()>& condition,
                absl::Duration timeout = absl::Seconds(30)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// A port on 127.0.0.1 that nothing listens on: bound, read, and released at once.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

class RendezvousTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(RendezvousServiceOptions{}); }

  void StartServer(RendezvousServiceOptions options) {
    server_.reset();
    auto server = RendezvousServer::Start("127.0.0.1:0", &table_, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    address_ = absl::StrCat("127.0.0.1:", server_->port());
  }

  std::unique_ptr<RendezvousClient> Client(RendezvousClientOptions options = {}) {
    auto client = RendezvousClient::Create(address_, options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  KvTable table_;
  std::unique_ptr<RendezvousServer> server_;
  std::string address_;
};

TEST_F(RendezvousTest, SetGetAndWaitRoundTrip) {
  auto client = Client();
  const std::vector<char> value = Bytes(absl::string_view("tcp\0addr", 8));
  ASSERT_TRUE(client->Set("job/j/gen/0/rank_0", value).ok());
  absl::StatusOr<std::vector<char>> got = client->Get("job/j/gen/0/rank_0", absl::Seconds(5));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, value);
  EXPECT_TRUE(client->Wait({"job/j/gen/0/rank_0"}, absl::Seconds(5)).ok());
  EXPECT_TRUE(client->Wait({}, absl::Seconds(5)).ok());
  EXPECT_EQ(*table_.Get("job/j/gen/0/rank_0", absl::ZeroDuration()), std::string("tcp\0addr", 8));
}

TEST_F(RendezvousTest, GetWaitsUntilAnotherClientSetsTheKey) {
  auto reader = Client();
  auto writer = Client();
  absl::StatusOr<std::vector<char>> got;
  std::thread thread([&] { got = reader->Get("late", absl::Seconds(30)); });
  ASSERT_TRUE(Eventually([&] { return table_.waiting() == 1; }));
  ASSERT_TRUE(writer->Set("late", Bytes("here")).ok());
  thread.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, Bytes("here"));
}

TEST_F(RendezvousTest, WaitTimesOutNamingTheMissingKeys) {
  auto client = Client();
  ASSERT_TRUE(client->Set("present", Bytes("x")).ok());
  const absl::Time start = absl::Now();
  const absl::Status status = client->Wait({"present", "absent/1"}, absl::Milliseconds(500));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(status.message(), HasSubstr("absent/1"));
  EXPECT_THAT(status.message(), HasSubstr(address_));
  EXPECT_GE(took, absl::Milliseconds(400));
  EXPECT_LT(took, absl::Seconds(5));

  const absl::StatusOr<std::vector<char>> got = client->Get("absent/2", absl::Milliseconds(100));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kDeadlineExceeded) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr("absent/2"));
}

TEST_F(RendezvousTest, ClientAsksAgainWhenTheServerCapsAWait) {
  RendezvousServiceOptions options;
  options.max_wait = absl::Milliseconds(50);
  StartServer(options);
  auto client = Client();
  const absl::Time start = absl::Now();
  const absl::Status status = client->Wait({"never"}, absl::Milliseconds(600));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_THAT(status.message(), HasSubstr("never"));
  // Not the server's 50 ms: the client kept asking until its own timeout.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(500));

  absl::Status waited;
  std::thread thread([&] { waited = client->Wait({"soon"}, absl::Seconds(30)); });
  ASSERT_TRUE(Eventually([&] { return table_.waiting() == 1; }));
  ASSERT_TRUE(table_.Set("soon", "x").ok());
  thread.join();
  EXPECT_TRUE(waited.ok()) << waited;
}

TEST_F(RendezvousTest, BadRequestsAreInvalidArgumentNamingTheProblem) {
  auto client = Client();
  absl::Status status = client->Set(std::string(600, 'k'), Bytes("v"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("600 bytes; the limit is 512"));
  EXPECT_THAT(status.message(), HasSubstr(address_));

  status = client->Wait({"fine", "not\tfine"}, absl::Seconds(1));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("0x09 at offset 3"));

  EXPECT_EQ(client->DeletePrefix("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RendezvousTest, DeletePrefixDropsAGeneration) {
  auto client = Client();
  const std::string old_gen = GenerationPrefix("j", 1);
  ASSERT_TRUE(client->Set(old_gen + "0", Bytes("a")).ok());
  ASSERT_TRUE(client->Set(old_gen + "1", Bytes("b")).ok());
  ASSERT_TRUE(client->Set(GenerationPrefix("j", 2) + "0", Bytes("c")).ok());
  absl::StatusOr<int64_t> deleted = client->DeletePrefix(old_gen);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2);
  EXPECT_EQ(table_.size(), 1u);
  EXPECT_EQ(client->Get(old_gen + "0", absl::Milliseconds(50)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST_F(RendezvousTest, ClosingTheTableEndsRemoteWaits) {
  auto client = Client();
  absl::Status status;
  std::thread thread([&] { status = client->Wait({"never"}, absl::Seconds(30)); });
  ASSERT_TRUE(Eventually([&] { return table_.waiting() == 1; }));
  table_.Close();
  thread.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("closed"));
}

TEST_F(RendezvousTest, ServerShutdownEndsRemoteWaitsPromptly) {
  auto client = Client();
  absl::Status status;
  std::thread thread([&] { status = client->Wait({"never"}, absl::Seconds(30)); });
  ASSERT_TRUE(Eventually([&] { return server_->service().pending() == 1; }));
  const absl::Time start = absl::Now();
  server_.reset();
  thread.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr("shutting down"));
  EXPECT_EQ(table_.waiting(), 0u);
}

TEST_F(RendezvousTest, ClientCancellationReleasesTheServersWait) {
  auto stub = cosched::v1::Rendezvous::NewStub(
      grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  cosched::v1::WaitRequest request;
  request.add_keys("never");
  request.set_timeout_ms(30000);
  cosched::v1::WaitReply reply;
  grpc::Status status;
  std::thread thread([&] { status = stub->Wait(&context, request, &reply); });
  ASSERT_TRUE(Eventually([&] { return table_.waiting() == 1; }));
  context.TryCancel();
  thread.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(
      Eventually([&] { return table_.waiting() == 0 && server_->service().pending() == 0; }));
}

TEST_F(RendezvousTest, UnreachableServerIsUnavailableNamingTheAddressWithinTheTimeout) {
  const int port = ClosedPort();
  ASSERT_NE(port, 0);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  RendezvousClientOptions options;
  options.rpc_timeout = absl::Milliseconds(300);
  auto client = RendezvousClient::Create(address, options);
  ASSERT_TRUE(client.ok()) << client.status();

  absl::Time start = absl::Now();
  absl::Status status = (*client)->Set("k", Bytes("v"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr(address));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));

  start = absl::Now();
  status = (*client)->Wait({"job/j/gen/0/rank_1"}, absl::Milliseconds(300));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_THAT(status.message(), HasSubstr(address));
  EXPECT_THAT(status.message(), HasSubstr("job/j/gen/0/rank_1"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(RendezvousClientTest, MalformedAddressesAreInvalidArgument) {
  for (const char* address : {"", "localhost", "localhost:", ":7000", "host:port", "host:0",
                              "host:70000", "::1:7000", "[]:7000", "host:+80"}) {
    const auto client = RendezvousClient::Create(address);
    EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_THAT(client.status().message(), HasSubstr(absl::StrCat("'", address, "'")));
  }
  EXPECT_TRUE(RendezvousClient::Create("[::1]:7000").ok());
  EXPECT_TRUE(RendezvousClient::Create("scheduler.local:7000").ok());
}

// Rank r contributes (r + 1) * (i % 7 + 1) at index i: small integers, so float sums are exact.
float RankValue(int rank, size_t i) { return static_cast<float>((rank + 1) * (i % 7 + 1)); }

// Forms one generation of a four-rank group, each rank a thread with its own client of the
// scheduler, and checks an allreduce.
void RunGeneration(const std::string& address, int64_t generation, bool shared_memory) {
  constexpr int kWorld = 4;
  constexpr size_t kFloats = 4099;
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < kWorld; ++rank) {
    ranks.emplace_back([&, rank] {
      auto client = RendezvousClient::Create(address);
      ASSERT_TRUE(client.ok()) << client.status();
      collectives::GroupOptions options;
      options.job_id = "kvjob";
      options.generation = generation;
      options.rank = rank;
      options.world_size = kWorld;
      options.store = client->get();
      options.timeout = absl::Seconds(30);
      options.shared_memory = shared_memory;
      auto group = collectives::CreateGroup(options);
      ASSERT_TRUE(group.ok()) << group.status();
      std::vector<float> data(kFloats);
      for (size_t i = 0; i < kFloats; ++i) data[i] = RankValue(rank, i);
      ASSERT_TRUE((*group)->Allreduce(absl::MakeSpan(data)).ok());
      for (size_t i = 0; i < kFloats; ++i) {
        const float expected = 10.0f * static_cast<float>(i % 7 + 1);  // ranks 1+2+3+4
        if (data[i] != expected) FAIL() << "rank " << rank << " element " << i << " is " << data[i];
      }
      // A healthy group is torn down together (see collective_group_test.cc).
      ASSERT_TRUE((*group)->Barrier().ok());
    });
  }
  for (std::thread& rank : ranks) rank.join();
}

TEST_F(RendezvousTest, FourRanksFormGlooGroupsThroughTheSchedulerForTwoGenerations) {
  const std::string gen0 = GenerationPrefix("kvjob", 0);
  const std::string gen1 = GenerationPrefix("kvjob", 1);

  // Generation 0 over gloo's TCP pairs, generation 1 with the one-host shared-memory path
  // (which also rendezvouses through the store).
  RunGeneration(address_, 0, /*shared_memory=*/false);
  ASSERT_FALSE(HasFatalFailure());
  const size_t gen0_keys = table_.size();
  EXPECT_GT(gen0_keys, 0u);

  auto scheduler = Client();
  absl::StatusOr<int64_t> deleted = scheduler->DeletePrefix(gen0);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(static_cast<size_t>(*deleted), gen0_keys);
  EXPECT_EQ(table_.size(), 0u);

  RunGeneration(address_, 1, /*shared_memory=*/true);
  ASSERT_FALSE(HasFatalFailure());
  const size_t gen1_keys = table_.size();
  EXPECT_GT(gen1_keys, 0u);
  EXPECT_EQ(*scheduler->DeletePrefix(gen0), 0);
  EXPECT_EQ(static_cast<size_t>(*scheduler->DeletePrefix(gen1)), gen1_keys);
}

}  // namespace
}  // namespace cosched::scheduler
