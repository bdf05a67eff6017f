#include "scheduler/service/rendezvous_cleanup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

namespace cosched::scheduler {
namespace {

class CountingOutbox : public CoreOutbox {
 public:
  void Assign(const NodeId&, const Assignment&) override { ++assigns; }
  void Revoke(const NodeId&, const Revocation&) override { ++revokes; }
  int assigns = 0;
  int revokes = 0;
};

TEST(RendezvousCleanupTest, DeletesTheKeysOfEndedGenerationsAndOfEndedJobs) {
  KvTable table;
  CountingOutbox sessions;
  RendezvousCleanup cleanup(&sessions, &table);
  for (int g = 0; g < 4; ++g) {
    ASSERT_TRUE(table.Set(absl::StrCat("job/j-1/gen/", g, "/rank_0"), "addr").ok());
  }
  ASSERT_TRUE(table.Set("job/j-2/gen/0/rank_0", "addr").ok());
  cleanup.Assign("n", Assignment{});
  cleanup.Revoke("n", Revocation{});
  EXPECT_EQ(sessions.assigns, 1);
  EXPECT_EQ(sessions.revokes, 1);

  cleanup.GenerationsEnded("j-1", 3);  // generation 3 is current
  EXPECT_EQ(table.MissingKeys({"job/j-1/gen/0/rank_0", "job/j-1/gen/2/rank_0"}).size(), 2u);
  EXPECT_TRUE(table.MissingKeys({"job/j-1/gen/3/rank_0", "job/j-2/gen/0/rank_0"}).empty());
  cleanup.GenerationsEnded("j-1", 3);  // again: nothing more to do
  EXPECT_TRUE(table.MissingKeys({"job/j-1/gen/3/rank_0"}).empty());

  cleanup.GenerationsEnded("j-1", std::numeric_limits<int64_t>::max());
  EXPECT_EQ(table.size(), 1u);  // only the other job's key is left
}

// A member that publishes after its generation ended (it had not heard of the newer one yet)
// must not leave a key behind that nothing would delete: it is refused, as superseded.
TEST(RendezvousCleanupTest, RefusesTheKeysOfEndedGenerationsAndJobs) {
  KvTable table;
  CountingOutbox sessions;
  {
    RendezvousCleanup cleanup(&sessions, &table);
    cleanup.GenerationsEnded("j-1", 3);
    const absl::Status late = table.Set("job/j-1/gen/2/rank_1", "addr");
    EXPECT_EQ(late.code(), absl::StatusCode::kCancelled) << late;
    EXPECT_THAT(std::string(late.message()), ::testing::HasSubstr("generation 2 of job j-1"));
    EXPECT_TRUE(table.Set("job/j-1/gen/3/rank_1", "addr").ok());
    EXPECT_TRUE(table.Set("job/j-2/gen/0/rank_0", "addr").ok());
    EXPECT_TRUE(table.Set("not/a/generation/key", "v").ok());

    cleanup.GenerationsEnded("j-1", std::numeric_limits<int64_t>::max());
    EXPECT_EQ(table.Set("job/j-1/gen/9/rank_0", "addr").code(), absl::StatusCode::kCancelled);
    EXPECT_EQ(table.size(), 2u);
  }
  // Without the cleanup the table takes any key again.
  EXPECT_TRUE(table.Set("job/j-1/gen/2/rank_1", "addr").ok());
}

}  // namespace
}  // namespace cosched::scheduler
