// Real processes over the file store: kill -9 one of three ranks during an allreduce. Both
// survivors must get a non-OK status within the collective timeout plus one second, then form
// generation 1 with the two of them and allreduce correctly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "collectives/file_store.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"

namespace cosched {
namespace {

using nlohmann::json;

constexpr absl::Duration kCollectiveTimeout = absl::Seconds(3);

// Reads lines until one with event == `event` arrives; fails the test on deadline or EOF.
json AwaitEvent(Subprocess& peer, const std::string& event, absl::Time deadline) {
  while (true) {
    auto line = peer.ReadLine(deadline);
    if (!line.ok()) {
      ADD_FAILURE() << "waiting for '" << event << "' from pid " << peer.pid() << ": "
                    << line.status();
      return json();
    }
    json parsed = json::parse(*line, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object() && parsed.value("event", "") == event) return parsed;
  }
}

// Starts three ranks, hits rank 2 with `signal` mid-allreduce, and checks that ranks 0 and 1
// report the failure within the collective timeout plus one second and then form
// generation 1 together.
void LoseOneRankAndRecover(int signal, const std::string& job) {
  const std::string dir = ::testing::TempDir() + "/peer_death_test_" + job;
  std::filesystem::remove_all(dir);
  std::vector<std::unique_ptr<Subprocess>> peers;
  for (int rank = 0; rank < 3; ++rank) {
    auto peer = Subprocess::Spawn({COSCHED_PEER_BINARY, "--bootstrap", "file:" + dir, "--job", job,
                                   "--rank", std::to_string(rank), "--world", "3", "--floats",
                                   std::to_string(4 << 20), "--iterations", "0", "--timeout",
                                   absl::FormatDuration(kCollectiveTimeout), "--rejoin"});
    ASSERT_TRUE(peer.ok()) << peer.status();
    peers.push_back(*std::move(peer));
  }
  // Every rank is in its allreduce loop.
  for (auto& peer : peers) {
    AwaitEvent(*peer, "allreduce_ok", absl::Now() + absl::Seconds(60));
  }

  peers[2]->Kill(signal);
  const absl::Time killed_at = absl::Now();
  for (int rank = 0; rank < 2; ++rank) {
    const json failed = AwaitEvent(*peers[rank], "allreduce_failed",
                                   killed_at + kCollectiveTimeout + absl::Seconds(1));
    EXPECT_NE(failed.value("code", ""), "OK");
    EXPECT_EQ(failed.value("generation", -1), 0);
  }
  EXPECT_LE(absl::Now() - killed_at, kCollectiveTimeout + absl::Seconds(1));
  if (signal == SIGSTOP) peers[2]->Kill(SIGKILL);  // a stalled rank is not coming back
  EXPECT_EQ(*peers[2]->Wait(absl::Now() + absl::Seconds(5)), 128 + SIGKILL);

  // The launcher's role: publish generation 1's members, the two survivors.
  auto store = collectives::FileStore::Open(dir);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Set("job/" + job + "/members/1", {'0', ',', '1'}).ok());
  for (int rank = 0; rank < 2; ++rank) {
    const json formed = AwaitEvent(*peers[rank], "group_formed", absl::Now() + absl::Seconds(30));
    EXPECT_EQ(formed.value("generation", -1), 1);
    EXPECT_EQ(formed.value("world", -1), 2);
    // allreduce_ok is only printed after the peer verified the sum over the two survivors.
    const json ok = AwaitEvent(*peers[rank], "allreduce_ok", absl::Now() + absl::Seconds(30));
    EXPECT_EQ(ok.value("generation", -1), 1);
  }
  // They keep going until stopped; stop them and make sure they were still alive.
  for (int rank = 0; rank < 2; ++rank) {
    peers[rank]->Kill(SIGTERM);
    EXPECT_EQ(*peers[rank]->Wait(absl::Now() + absl::Seconds(10)), 128 + SIGTERM);
  }
  std::filesystem::remove_all(dir);
}

TEST(PeerDeathTest, KilledRankSurvivorsFailFastThenFormTheNextGeneration) {
  LoseOneRankAndRecover(SIGKILL, "killed");
}

// A stopped process keeps its sockets open, so only the timeout can expose it.
TEST(PeerDeathTest, StalledRankSurvivorsFailWithinTheTimeout) {
  LoseOneRankAndRecover(SIGSTOP, "stalled");
}

}  // namespace
}  // namespace cosched
