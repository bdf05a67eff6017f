// File: scheduler/store/state_store_test.cc
// The one suite every StateStore passes: the file store over a scratch directory and the
// in-memory store over a shared Disk. "Reopen" destroys the store and builds a new one over
// the same durable state, as a scheduler restart does.
#include "scheduler/store/state_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status_macros.h"
#include "scheduler/store/file_state_store.h"
#include "scheduler/store/in_memory_state_store.h"
#include "scheduler/store/store_test_util.h"

namespace cosched::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using Records = std::vector<std::pair<uint64_t, std::string>>;

class StateStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "file") directory_ = FreshTestDirectory();
    disk_ = std::make_shared<InMemoryStateStore::Disk>();
    ASSERT_OK_AND_ASSIGN(store_, OpenStore());
  }
  void TearDown() override {
    store_.reset();
    if (!directory_.empty()) std::filesystem::remove_all(directory_);
  }

  // A new store over what the current one left behind; Recover not called yet.
  absl::StatusOr<std::unique_ptr<StateStore>> OpenStore() {
    store_.reset();
    if (GetParam() == "memory") return std::make_unique<InMemoryStateStore>(disk_);
    ASSIGN_OR_RETURN(auto store, FileStateStore::Open(directory_));
    return std::unique_ptr<StateStore>(std::move(store));
  }

  // Restarts and recovers; the new store is ready for appends.
  absl::StatusOr<StateStore::Recovered> Restart() {
    ASSIGN_OR_RETURN(store_, OpenStore());
    return store_->Recover();
  }

  std::string directory_;
  std::shared_ptr<InMemoryStateStore::Disk> disk_;
  std::unique_ptr<StateStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Stores, StateStoreTest, ::testing::Values("memory", "file"),
                         [](const auto& param_info) { return param_info.param; });

TEST_P(StateStoreTest, FreshStoreRecoversNothing) {
  ASSERT_OK_AND_ASSIGN(StateStore::Recovered recovered, store_->Recover());
  EXPECT_EQ(recovered.snapshot, "");
  EXPECT_EQ(recovered.snapshot_sequence, 0u);
  EXPECT_THAT(recovered.records, IsEmpty());
  EXPECT_THAT(recovered.warnings, IsEmpty());
}

TEST_P(StateStoreTest, AppendedRecordsSurviveARestart) {
  ASSERT_OK(store_->Recover().status());
  for (const char* record : {"submit job a", "place job a", "finish job a"}) {
    ASSERT_OK(store_->Append(record).status());
  }
  ASSERT_OK_AND_ASSIGN(StateStore::Recovered recovered, Restart());
  EXPECT_THAT(recovered.records, ElementsAre(Pair(1, "submit job a"), Pair(2, "place job a"),
                                             Pair(3, "finish job a")));
  EXPECT_THAT(recovered.warnings, IsEmpty());
}

TEST_P(StateStoreTest, SequenceNumbersContinueAcrossRestarts) {
  ASSERT_OK(store_->Recover().status());
  ASSERT_OK_AND_ASSIGN(uint64_t first, store_->Append("one"));
  ASSERT_OK_AND_ASSIGN(uint64_t second, store_->Append("two"));
  EXPECT_EQ(first, 1u);
  EXPECT_EQ(second, 2u);
  ASSERT_OK(Restart().status());
  ASSERT_OK_AND_ASSIGN(uint64_t third, store_->Append("three"));
  EXPECT_EQ(third, 3u);
  ASSERT_OK_AND_ASSIGN(StateStore::Recovered recovered, Restart());
  EXPECT_THAT(recovered.records, ElementsAre(Pair(1, "one"), Pair(2, "two"), Pair(3, "three")));
  ASSERT_OK_AND_ASSIGN(uint64_t fourth, store_->Append("four"));
  EXPECT_EQ(fourth, 4u);
}

TEST_P(StateStoreTest, SnapshotAndTheRecordsAfterIt) {
  ASSERT_OK(store_->Recover().status());
  for (int i = 1; i <= 5; ++i) ASSERT_OK(store_->Append(absl::StrCat("record ", i)).status());
  ASSERT_OK(store_->WriteSnapshot("state after 3", 3));
  ASSERT_OK(store_->Append("record 6").status());
  ASSERT_OK_AND_ASSIGN(StateStore::Recovered recovered, Restart());
  EXPECT_EQ(recovered.snapshot, "state after 3");
  EXPECT_EQ(recovered.snapshot_sequence, 3u);
  EXPECT_THAT(recovered.records,
              ElementsAre(Pair(4, "record 4"), Pair(5, "record 5"), Pair(6, "record 6")));
}

TEST_P(StateStoreTest, SnapshotOfEverythingThenAppendsContinue) {
  ASSERT_OK(store_->Recover().status());
  for (int i = 1; i <= 4; ++i) ASSERT_OK(store_->Append("r").status());
  ASSERT_OK(store_->WriteSnapshot("all four", 4));
  ASSERT_OK_AND_ASSIGN(StateStore::Recovered recovered, Restart());
  EXPECT_EQ(recovered.snapshot, "all four");
  EXPECT_EQ(recovered.snapshot_sequence, 4u);
  EXPECT_THAT(recovered.records, IsEmpty());
  ASSERT_OK_AND_ASSIGN(uint64_t next, store_->Append("fifth"));
  EXPECT_EQ(next, 5u);
  ASSERT_OK_AND_ASSIGN(recovered, Restart());
  EXPECT_THAT(recovered.records, ElementsAre(Pair(5, "fifth")));
}

TEST_P(StateStoreTest, NewestSnapshotWins) {
  ASSERT_OK(store_->Recover().status());
  for (int i = 1; i <= 6; ++i) ASSERT_OK(store_->Append(absl::StrCat(i)).status());
  ASSERT_OK(store_->WriteSnapshot("at 2", 2));
  ASSERT_OK(store_->WriteSnapshot("at 5", 5));
  ASSERT_OK(store_->WriteSnapshot("at 5, rewritten", 5));
  ASSERT_OK_AND_ASSIGN(StateStore::Recovered recovered, Restart());
  EXPECT_EQ(recovered.snapshot, "at 5, rewritten");
  EXPECT_EQ(recovered.snapshot_sequence, 5u);
  EXPECT_THAT(recovered.records, ElementsAre(Pair(6, "6")));
}

TEST_P(StateStoreTest, EmptyBinaryAndLargeRecords) {
  ASSERT_OK(store_->Recover().status());
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  std::string large(5 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 131 + i / 7);
  const std::string large_state(3 << 20, 's');
  ASSERT_OK(store_->Append("").status());
  ASSERT_OK(store_->Append(every_byte).status());
  ASSERT_OK(store_->Append(large).status());
  ASSERT_OK(store_->WriteSnapshot(large_state, 1));
  ASSERT_OK(store_->Append("").status());
  ASSERT_OK(store_->Append(large).status());
  ASSERT_OK_AND_ASSIGN(StateStore::Recovered recovered, Restart());
  EXPECT_TRUE(recovered.snapshot == large_state);
  EXPECT_EQ(recovered.snapshot_sequence, 1u);
  ASSERT_EQ(recovered.records.size(), 4u);
  EXPECT_EQ(recovered.records[0], Records::value_type(2, every_byte));
  EXPECT_TRUE(recovered.records[1] == Records::value_type(3, large));
  EXPECT_EQ(recovered.records[2], Records::value_type(4, ""));
  EXPECT_TRUE(recovered.records[3] == Records::value_type(5, large));
  EXPECT_THAT(recovered.warnings, IsEmpty());
}

TEST_P(StateStoreTest, EmptySnapshotState) {
  ASSERT_OK(store_->Recover().status());
  ASSERT_OK(store_->Append("x").status());
  ASSERT_OK(store_->WriteSnapshot("", 1));
  ASSERT_OK_AND_ASSIGN(StateStore::Recovered recovered, Restart());
  EXPECT_EQ(recovered.snapshot, "");
  EXPECT_EQ(recovered.snapshot_sequence, 1u);
}

TEST_P(StateStoreTest, CallsBeforeRecoverAreRefused) {
  EXPECT_EQ(store_->Append("early").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->WriteSnapshot("early", 1).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(store_->Recover().status());
  EXPECT_EQ(store_->Recover().status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK_AND_ASSIGN(uint64_t first, store_->Append("now"));
  EXPECT_EQ(first, 1u);
}

TEST_P(StateStoreTest, SnapshotSequenceMustBeHandedOutAndNotGoBack) {
  ASSERT_OK(store_->Recover().status());
  EXPECT_EQ(store_->WriteSnapshot("nothing yet", 0).code(), absl::StatusCode::kInvalidArgument);
  for (int i = 1; i <= 3; ++i) ASSERT_OK(store_->Append("r").status());
  const absl::Status ahead = store_->WriteSnapshot("ahead", 4);
  EXPECT_EQ(ahead.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(ahead.message(), HasSubstr("last record appended is 3"));
  ASSERT_OK(store_->WriteSnapshot("at 3", 3));
  EXPECT_EQ(store_->WriteSnapshot("back", 2).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(StateStore::Recovered recovered, Restart());
  EXPECT_EQ(recovered.snapshot, "at 3");
}

}  // namespace
}  // namespace cosched::scheduler
