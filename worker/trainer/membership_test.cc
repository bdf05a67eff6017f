// FileStoreMembership: survivors agree on the next generation without waiting out the settle
// window when the missing ranks' processes are known to have ended. A broken check shows as
// a test that hangs on its hour-long window until ctest's timeout fails it.
#include "worker/trainer/membership.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <set>
#include <vector>

#include "collectives/memory_store.h"

namespace cosched::worker {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kNeverSettles = absl::Hours(1);

Membership Generation(int64_t generation, int rank, int world_size) {
  Membership m;
  m.generation = generation;
  m.rank = rank;
  m.world_size = world_size;
  return m;
}

// Every rank in `ranks` of `current` calls Next on its own source at the same time.
std::vector<Membership> NextTogether(std::vector<FileStoreMembership*> sources,
                                     const std::vector<int>& ranks, int64_t generation,
                                     int world_size) {
  std::vector<std::future<absl::StatusOr<Membership>>> calls;
  for (size_t i = 0; i < ranks.size(); ++i) {
    calls.push_back(std::async(std::launch::async, [&, i] {
      const Membership current = Generation(generation, ranks[i], world_size);
      return sources[i]->Next(current, current.generation);
    }));
  }
  std::vector<Membership> next;
  for (auto& call : calls) {
    absl::StatusOr<Membership> m = call.get();
    EXPECT_TRUE(m.ok()) << m.status();
    next.push_back(m.value_or(Membership{}));
  }
  return next;
}

TEST(FileStoreMembershipTest, SurvivorsDoNotWaitForARankWhoseProcessEnded) {
  collectives::InMemoryStore store;
  auto ended = [](int process) { return process == 2; };
  FileStoreMembership rank0(&store, "j", kNeverSettles, ended);
  FileStoreMembership rank1(&store, "j", kNeverSettles, ended);
  const std::vector<Membership> next = NextTogether({&rank0, &rank1}, {0, 1}, 0, 3);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(next[r].generation, 1);
    EXPECT_EQ(next[r].world_size, 2);
    EXPECT_EQ(next[r].rank, r);
    EXPECT_THAT(next[r].new_rank_of_old, ElementsAre(0, 1, -1));
  }
}

TEST(FileStoreMembershipTest, ProcessesKeepTheirNumbersAcrossGenerations) {
  collectives::InMemoryStore store;
  std::set<int> ended_processes = {0};
  std::mutex mu;
  auto ended = [&](int process) {
    std::lock_guard<std::mutex> lock(mu);
    return ended_processes.count(process) > 0;
  };
  FileStoreMembership process1(&store, "j", kNeverSettles, ended);
  FileStoreMembership process2(&store, "j", kNeverSettles, ended);
  // Process 0 ends: processes 1 and 2 become ranks 0 and 1 of generation 1.
  std::vector<Membership> next = NextTogether({&process1, &process2}, {1, 2}, 0, 3);
  EXPECT_THAT(next[0].new_rank_of_old, ElementsAre(-1, 0, 1));
  // Process 2 (rank 1 now) ends. Asking about process 1 -- the rank's old number -- would
  // wait for the hour; asking about the process behind rank 1 does not.
  {
    std::lock_guard<std::mutex> lock(mu);
    ended_processes.insert(2);
  }
  next = NextTogether({&process1}, {0}, 1, 2);
  EXPECT_EQ(next[0].generation, 2);
  EXPECT_EQ(next[0].world_size, 1);
  EXPECT_THAT(next[0].new_rank_of_old, ElementsAre(0, -1));
}

TEST(FileStoreMembershipTest, ARankAliveButSilentIsLeftOutWhenTheWindowCloses) {
  collectives::InMemoryStore store;
  auto never_ended = [](int) { return false; };
  FileStoreMembership rank0(&store, "j", absl::Milliseconds(100), never_ended);
  FileStoreMembership rank2(&store, "j", absl::Milliseconds(100), never_ended);
  const std::vector<Membership> next = NextTogether({&rank0, &rank2}, {0, 2}, 0, 3);
  for (const Membership& m : next) EXPECT_THAT(m.new_rank_of_old, ElementsAre(0, -1, 1));
}

TEST(FileStoreMembershipTest, AFalseAlarmKeepsEveryRank) {
  collectives::InMemoryStore store;
  auto never_ended = [](int) { return false; };
  FileStoreMembership rank0(&store, "j", kNeverSettles, never_ended);
  FileStoreMembership rank1(&store, "j", kNeverSettles, never_ended);
  const std::vector<Membership> next = NextTogether({&rank0, &rank1}, {0, 1}, 0, 2);
  for (const Membership& m : next) EXPECT_THAT(m.new_rank_of_old, ElementsAre(0, 1));
}

}  // namespace
}  // namespace cosched::worker
