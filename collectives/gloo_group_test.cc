// GlooGroup with ranks as threads over an InMemoryStore: the conformance suite (with and
// without shared memory) and what only gloo has (named algorithms, addresses, descriptors).
#include "collectives/gloo_group.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <numeric>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "collectives/memory_store.h"
#include "collectives/testing/collective_group_conformance.h"
#include "common/rendezvous_keys.h"
#include "gloo/transport/tcp/address.h"

namespace cosched::collectives {
namespace {

using ::testing::HasSubstr;

GroupOptions Options(KeyValueStore* store, int rank, int world, int64_t generation = 0) {
  GroupOptions options;
  options.job_id = "test";
  options.generation = generation;
  options.rank = rank;
  options.world_size = world;
  options.store = store;
  options.timeout = absl::Seconds(30);
  return options;
}

// Forms a group of `world` ranks, one thread each, and runs `body` on every rank.
void RunRanks(int world, const std::function<void(CollectiveGroup&)>& body, int64_t generation = 0,
              KeyValueStore* shared_store = nullptr) {
  InMemoryStore local_store;
  KeyValueStore* store = shared_store != nullptr ? shared_store : &local_store;
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      auto group = CreateGroup(Options(store, rank, world, generation));
      ASSERT_TRUE(group.ok()) << group.status();
      body(**group);
      // A healthy group is torn down together: gloo's classic algorithms leave flow-control
      // notifications in flight, and a rank that closes its sockets before its peers have
      // read them resets their connections.
      ASSERT_TRUE((*group)->Barrier().ok());
    });
  }
  for (auto& t : threads) t.join();
}

// Rank r contributes (r + 1) * (i % 7 + 1) at index i: small integers, so float sums are exact.
std::vector<float> RankData(int rank, size_t n) {
  std::vector<float> data(n);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<float>((rank + 1) * (i % 7 + 1));
  return data;
}

void ExpectSummed(const std::vector<float>& data, int world) {
  const float ranks_sum = static_cast<float>(world * (world + 1) / 2);
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != ranks_sum * static_cast<float>(i % 7 + 1)) {
      FAIL() << "element " << i << " is " << data[i] << ", expected "
             << ranks_sum * static_cast<float>(i % 7 + 1);
    }
  }
}

class ExplicitAlgorithmTest : public ::testing::TestWithParam<AllreduceAlgorithm> {};

TEST_P(ExplicitAlgorithmTest, SumsExactlyForEveryWorldSize) {
  for (int world = 1; world <= 8; ++world) {
    for (size_t floats : {size_t{1}, size_t{1001}, size_t{1} << 18}) {
      SCOPED_TRACE("world " + std::to_string(world) + ", floats " + std::to_string(floats));
      RunRanks(world, [&](CollectiveGroup& group) {
        std::vector<float> data = RankData(group.rank(), floats);
        const absl::Status status = group.Allreduce(absl::MakeSpan(data), GetParam());
        if (!AlgorithmSupportsWorldSize(GetParam(), world)) {
          EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
          return;
        }
        ASSERT_TRUE(status.ok()) << status;
        ExpectSummed(data, world);
      });
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, ExplicitAlgorithmTest, ::testing::ValuesIn(AllAlgorithms()),
                         [](const auto& test_param) {
                           std::string name(AlgorithmName(test_param.param));
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(GlooGroupTest, ClassicAlgorithmsAreReusedAcrossCallsAndBuffers) {
  // The exchange reuses its inboxes from call to call.
  for (AllreduceAlgorithm algorithm :
       {AllreduceAlgorithm::kRing, AllreduceAlgorithm::kHalvingDoubling,
        AllreduceAlgorithm::kExchange}) {
    RunRanks(3, [&](CollectiveGroup& group) {
      const size_t n = 5000;
      const absl::Span<float> staged = group.StagingBuffer(n);
      EXPECT_EQ(group.StagingBuffer(n).data(), staged.data());  // one buffer per size
      for (int i = 0; i < 4; ++i) {
        // Alternate the zero-copy path (the group's buffer) and a caller's own buffer.
        std::vector<float> own = RankData(group.rank(), n);
        absl::Span<float> data = absl::MakeSpan(own);
        if (i % 2 == 0) {
          std::copy(own.begin(), own.end(), staged.begin());
          data = staged;
        }
        ASSERT_TRUE(group.Allreduce(data, algorithm).ok());
        ExpectSummed(std::vector<float>(data.begin(), data.end()), 3);
      }
    });
  }
}

// Non-integer values whose sum depends on the order of additions: every rank must still end
// with the same bits, across several chunks and between other operations on the group.
TEST(GlooGroupTest, ExchangeGivesEveryRankTheSameBitsInStepWithOtherOperations) {
  for (int world : {2, 3, 5}) {
    SCOPED_TRACE("world " + std::to_string(world));
    const size_t n = 300000;  // several of the exchange's chunks, the last one partial
    std::vector<std::vector<float>> results(world);
    std::mutex results_mu;
    RunRanks(world, [&](CollectiveGroup& group) {
      std::vector<float> data(n);
      for (size_t i = 0; i < n; ++i) {
        data[i] = 1.0f / static_cast<float>(group.rank() * 7 + static_cast<int>(i % 13) + 3);
      }
      ASSERT_TRUE(group.Allreduce(absl::MakeSpan(data), AllreduceAlgorithm::kExchange).ok());
      ASSERT_TRUE(group.Barrier().ok());
      std::vector<float> other = RankData(group.rank(), 1001);
      ASSERT_TRUE(group.Allreduce(absl::MakeSpan(other), AllreduceAlgorithm::kRing).ok());
      ExpectSummed(other, world);
      std::vector<float> again = RankData(group.rank(), 5000);
      ASSERT_TRUE(group.Allreduce(absl::MakeSpan(again), AllreduceAlgorithm::kExchange).ok());
      ExpectSummed(again, world);
      std::lock_guard<std::mutex> lock(results_mu);
      results[group.rank()] = std::move(data);
    });
    for (int r = 1; r < world; ++r) {
      ASSERT_EQ(0, std::memcmp(results[r].data(), results[0].data(), n * sizeof(float)))
          << "rank " << r << " differs from rank 0";
    }
  }
}

TEST(GlooGroupTest, AddressesAndStoreAreChecked) {
  InMemoryStore store;
  EXPECT_EQ(CreateGroup(Options(nullptr, 0, 2)).status().code(),
            absl::StatusCode::kInvalidArgument);
  GroupOptions bad_host = Options(&store, 0, 1);
  bad_host.advertise_address = "no-such-host.invalid";
  EXPECT_EQ(CreateGroup(bad_host).status().code(), absl::StatusCode::kUnavailable);
}

// A rank whose generation is superseded while it waits for a peer to connect stops at once,
// CANCELLED: the peer published its address and then left for the newer generation, so
// nothing will connect, and gloo would wait five times its timeout for each such pair in turn.
TEST(GlooGroupTest, SupersededWhileWaitingForAPeerToConnectStopsAtOnce) {
  InMemoryStore store;
  // Rank 1's address, 127.0.0.2, sorts after rank 0's 127.0.0.1: rank 0 is the side of the
  // pair that waits for rank 1 to connect.
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(9);
  ASSERT_EQ(inet_pton(AF_INET, "127.0.0.2", &peer.sin_addr), 1);
  const std::string prefix = GenerationPrefix("test", 0);
  ASSERT_TRUE(store.Set(prefix + "rank_1", {'h'}).ok());
  ASSERT_TRUE(store
                  .Set(prefix + "1", gloo::transport::tcp::Address(
                                         reinterpret_cast<const sockaddr*>(&peer), sizeof(peer))
                                         .bytes())
                  .ok());
  GroupOptions options = Options(&store, 0, 2);
  options.advertise_address = "127.0.0.1";
  // gloo waits five times this for a peer's first connect: only the stop can end the wait
  // within the minute below.
  options.timeout = absl::Seconds(30);
  std::stop_source superseded;
  options.stop = superseded.get_token();
  auto forming = std::async(std::launch::async, [&] { return CreateGroup(options).status(); });
  // Rank 0 publishes its own address right before it connects its pairs.
  ASSERT_TRUE(store.Wait({prefix + "0"}, absl::Seconds(60)).ok());
  superseded.request_stop();
  ASSERT_EQ(forming.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "rank 0 still waits for its peer a minute after the stop";
  const absl::Status formed = forming.get();
  EXPECT_EQ(formed.code(), absl::StatusCode::kCancelled) << formed;
}

namespace testing_backends {

// Forms GlooGroups over one InMemoryStore per test.
// `hosts` > 1 deals the ranks round-robin over that many pretend hosts (explicit host ids):
// with more ranks than hosts the group reduces hierarchically.
class GlooFactory : public testing::GroupFactory {
 public:
  GlooFactory(bool shared_memory, int hosts) : shared_memory_(shared_memory), hosts_(hosts) {}
  absl::StatusOr<std::unique_ptr<CollectiveGroup>> Create(GroupOptions options) override {
    options.store = &store_;
    options.shared_memory = shared_memory_;
    if (hosts_ > 1) options.host_id = absl::StrCat("host-", options.rank % hosts_);
    return CreateGroup(options);
  }

 private:
  const bool shared_memory_;
  const int hosts_;
  InMemoryStore store_;
};

}  // namespace testing_backends

// Ranks of this process share a host: "shm" reduces through shared memory, "tcp" through
// gloo's pairs only; "hierarchical" pretends they are on two hosts.
using testing::CollectiveGroupConformanceTest;  // the macro takes an unqualified name
INSTANTIATE_TEST_SUITE_P(
    Gloo, CollectiveGroupConformanceTest,
    ::testing::Values(
        testing::ConformanceBackend{
            "shm", [] { return std::make_unique<testing_backends::GlooFactory>(true, 1); }},
        testing::ConformanceBackend{
            "tcp", [] { return std::make_unique<testing_backends::GlooFactory>(false, 1); }},
        testing::ConformanceBackend{
            "hierarchical",
            [] { return std::make_unique<testing_backends::GlooFactory>(true, 2); }}),
    testing::ConformanceBackendName);

// Forms GlooGroups of `host_ids.size()` ranks (one thread each) and runs `body` on each.
void RunOnHosts(const std::vector<std::string>& host_ids, bool shared_memory,
                const std::function<void(GlooGroup&)>& body,
                size_t segment_bytes_per_rank = 16 << 20,
                const AlgorithmSelector& selector = AlgorithmSelector()) {
  InMemoryStore store;
  const int world = static_cast<int>(host_ids.size());
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      GroupOptions options = Options(&store, rank, world);
      options.host_id = host_ids[rank];
      options.shared_memory = shared_memory;
      options.shared_memory_bytes_per_rank = segment_bytes_per_rank;
      options.selector = selector;
      auto group = GlooGroup::Create(options);
      ASSERT_TRUE(group.ok()) << group.status();
      body(**group);
      ASSERT_TRUE((*group)->Barrier().ok());
    });
  }
  for (auto& t : threads) t.join();
}

TEST(GlooGroupTest, PathFollowsWhereTheRanksRun) {
  RunOnHosts({"a", "a", "a"}, true, [](GlooGroup& group) {
    EXPECT_EQ(group.path(), AllreducePath::kSharedMemory);
    EXPECT_NE(group.SharedWorkCell(group.rank()), nullptr);
  });
  RunOnHosts({"a", "b", "c"}, true,
             [](GlooGroup& group) { EXPECT_EQ(group.path(), AllreducePath::kGloo); });
  RunOnHosts({"a", "a", "b", "b"}, false,
             [](GlooGroup& group) { EXPECT_EQ(group.path(), AllreducePath::kGloo); });
}

TEST(GlooGroupTest, HierarchicalAllreduceSumsAcrossUnevenHostsAndLargeMessages) {
  // Hosts of 3, 1 and 2 ranks; segments of 16 Ki floats a rank, so the largest message
  // goes through every shared-memory phase in pieces.
  const std::vector<std::string> hosts = {"a", "b", "a", "c", "a", "c"};
  RunOnHosts(
      hosts, true,
      [&](GlooGroup& group) {
        EXPECT_EQ(group.path(), AllreducePath::kHierarchical);
        EXPECT_EQ(group.layout().host_count(), 3);
        // The three leaders run the direct algorithm's ring among themselves.
        EXPECT_EQ(group.ChosenAlgorithm(4096), AllreduceAlgorithm::kDirect);
        // The trainer's work cells need every rank in one segment.
        EXPECT_EQ(group.SharedWorkCell(group.rank()), nullptr);
        for (size_t floats : {size_t{1}, size_t{4097}, size_t{50000}}) {
          std::vector<float> data = RankData(group.rank(), floats);
          ASSERT_TRUE(group.Allreduce(absl::MakeSpan(data)).ok());
          ExpectSummed(data, 6);
        }
        // Named algorithms still run on the mesh of all ranks.
        std::vector<float> data = RankData(group.rank(), 1000);
        ASSERT_TRUE(group.Allreduce(absl::MakeSpan(data), AllreduceAlgorithm::kRing).ok());
        ExpectSummed(data, 6);
      },
      64 << 10);
}

TEST(GlooGroupTest, SharedMemoryAllreduceInPiecesSumsInRankOrderWithTheSameBitsEverywhere) {
  // Segments of 16 Ki floats a rank: 50,000 floats go through in four pieces, the last one
  // partial. Fractions make the order of the additions show in the bits.
  auto value = [](int rank, size_t i) {
    return 1.0f / static_cast<float>(rank * 7 + static_cast<int>(i % 13) + 3);
  };
  for (int world : {2, 3, 4}) {
    SCOPED_TRACE("world " + std::to_string(world));
    for (size_t n : {size_t{1}, size_t{5}, size_t{50000}}) {
      std::vector<float> expected(n, 0.0f);
      for (size_t i = 0; i < n; ++i) {
        float sum = value(0, i);
        for (int r = 1; r < world; ++r) sum += value(r, i);
        expected[i] = sum;
      }
      RunOnHosts(
          std::vector<std::string>(world, "a"), true,
          [&](GlooGroup& group) {
            ASSERT_EQ(group.path(), AllreducePath::kSharedMemory);
            std::vector<float> data(n);
            for (size_t i = 0; i < n; ++i) data[i] = value(group.rank(), i);
            ASSERT_TRUE(group.Allreduce(absl::MakeSpan(data)).ok());
            EXPECT_EQ(0, std::memcmp(data.data(), expected.data(), n * sizeof(float)))
                << "rank " << group.rank() << " of " << n << " floats";
          },
          64 << 10);
    }
  }
}

TEST(GlooGroupTest, LeadersTaggedAllreduceLeavesWholeGroupOperationsInStep) {
  // allreduce-ring numbers its messages with tags, and only leaders run it on the leaders'
  // mesh: the whole group's later broadcasts, barriers and allreduces must still match up
  // (they hung when both meshes drew tags from one counter).
  const std::vector<std::string> hosts = {"a", "a", "b", "b"};
  RunOnHosts(
      hosts, true,
      [&](GlooGroup& group) {
        ASSERT_EQ(group.path(), AllreducePath::kHierarchical);
        for (int round = 0; round < 3; ++round) {
          std::vector<float> data = RankData(group.rank(), 3000);
          ASSERT_TRUE(group.Allreduce(absl::MakeSpan(data)).ok());
          ExpectSummed(data, 4);
          char byte = group.rank() == 1 ? static_cast<char>(round + 1) : 0;
          ASSERT_TRUE(group.Broadcast(absl::Span<char>(&byte, 1), 1).ok());
          EXPECT_EQ(byte, round + 1);
          ASSERT_TRUE(group.Barrier().ok());
          std::vector<float> on_mesh = RankData(group.rank(), 100);
          ASSERT_TRUE(
              group.Allreduce(absl::MakeSpan(on_mesh), AllreduceAlgorithm::kAllreduceBcube).ok());
          ExpectSummed(on_mesh, 4);
        }
      },
      64 << 10, AlgorithmSelector({{0, AllreduceAlgorithm::kAllreduceRing}}));
}

int CountEntries(const char* dir) {
  int n = 0;
  DIR* d = opendir(dir);
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

TEST(GlooGroupTest, FiftyGenerationsLeakNoDescriptorsOrThreads) {
  InMemoryStore store;
  auto one_generation = [&](int64_t g) {
    RunRanks(
        3,
        [](CollectiveGroup& group) {
          std::vector<float> data = RankData(group.rank(), 4096);
          ASSERT_TRUE(group.Allreduce(absl::MakeSpan(data)).ok());
          ExpectSummed(data, 3);
        },
        g, &store);
  };
  one_generation(0);  // warm up lazily created process-wide state
  const int fds_before = CountEntries("/proc/self/fd");
  const int threads_before = CountEntries("/proc/self/task");
  for (int64_t g = 1; g <= 50; ++g) one_generation(g);
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds_before);
  EXPECT_EQ(CountEntries("/proc/self/task"), threads_before);
}

}  // namespace
}  // namespace cosched::collectives
