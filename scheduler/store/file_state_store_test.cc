// File: scheduler/store/file_state_store_test.cc
// What only the file store has: segments and compaction, and damaged files. Damage is made
// by editing the files between a store's destruction and the next one's recovery, as a
// crash or a bad disk would leave them.
#include "scheduler/store/file_state_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "scheduler/store/store_directory.h"
#include "scheduler/store/store_test_util.h"
#include "scheduler/store/wal_format.h"

namespace cosched::scheduler {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

class FileStateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { directory_ = FreshTestDirectory(); }
  void TearDown() override { fs::remove_all(directory_); }

  std::string PathOf(const std::string& name) const { return absl::StrCat(directory_, "/", name); }
  std::string Segment(uint64_t first) const { return PathOf(WalSegmentName(first)); }
  std::string Snapshot(uint64_t last) const { return PathOf(SnapshotName(last)); }

  // The store's data files (segments and snapshots), by name.
  std::set<std::string> DataFiles() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory_)) {
      const std::string name = entry.path().filename().string();
      if (name != "LOCK") names.insert(name);
    }
    return names;
  }

  // Opens and recovers a store over directory_.
  absl::StatusOr<std::unique_ptr<FileStateStore>> OpenRecovered(
      const FileStateStoreOptions& options = {}) {
    ASSIGN_OR_RETURN(auto store, FileStateStore::Open(directory_, options));
    ASSIGN_OR_RETURN(recovered_, store->Recover());
    return store;
  }

  // Writes `records` (sequences 1, 2, ...) into a fresh store and closes it.
  void Fill(const std::vector<std::string>& records, const FileStateStoreOptions& options = {}) {
    ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered(options));
    for (const std::string& record : records) ASSERT_OK(store->Append(record).status());
  }

  std::string directory_;
  StateStore::Recovered recovered_;
};

// Options that put every record of a few dozen bytes in a segment of its own.
FileStateStoreOptions OneRecordPerSegment(int snapshots_to_keep) {
  FileStateStoreOptions options;
  options.segment_bytes = 100;
  options.snapshots_to_keep = snapshots_to_keep;
  return options;
}

TEST_F(FileStateStoreTest, RollsToNewSegmentsAndReadsThemInOrder) {
  Fill({"first record, 40 bytes long............", "second", "third"}, OneRecordPerSegment(1));
  EXPECT_THAT(DataFiles(), UnorderedElementsAre(WalSegmentName(1), WalSegmentName(2)));
  ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered(OneRecordPerSegment(1)));
  EXPECT_THAT(recovered_.records, ElementsAre(Pair(1, "first record, 40 bytes long............"),
                                              Pair(2, "second"), Pair(3, "third")));
}

TEST_F(FileStateStoreTest, RecordLargerThanASegmentGetsItsOwn) {
  const std::string big(1000, 'b');
  Fill({"small", big, "small again"}, OneRecordPerSegment(1));
  EXPECT_THAT(DataFiles(),
              UnorderedElementsAre(WalSegmentName(1), WalSegmentName(2), WalSegmentName(3)));
  ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered(OneRecordPerSegment(1)));
  EXPECT_THAT(recovered_.records,
              ElementsAre(Pair(1, "small"), Pair(2, big), Pair(3, "small again")));
}

TEST_F(FileStateStoreTest, CompactionDeletesSegmentsTheSnapshotCovers) {
  const std::string record(40, 'r');
  ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered(OneRecordPerSegment(1)));
  for (int i = 1; i <= 10; ++i) ASSERT_OK(store->Append(record).status());
  EXPECT_THAT(DataFiles(), SizeIs(10));
  ASSERT_OK(store->WriteSnapshot("state at 7", 7));
  EXPECT_THAT(DataFiles(), UnorderedElementsAre(WalSegmentName(8), WalSegmentName(9),
                                                WalSegmentName(10), SnapshotName(7)));
  // Covering the newest segment does not delete it: appends still go there.
  ASSERT_OK(store->WriteSnapshot("state at 10", 10));
  EXPECT_THAT(DataFiles(), UnorderedElementsAre(WalSegmentName(10), SnapshotName(10)));
  store.reset();
  ASSERT_OK_AND_ASSIGN(store, OpenRecovered(OneRecordPerSegment(1)));
  EXPECT_EQ(recovered_.snapshot, "state at 10");
  EXPECT_THAT(recovered_.records, IsEmpty());
  ASSERT_OK_AND_ASSIGN(uint64_t next, store->Append(record));
  EXPECT_EQ(next, 11u);
}

TEST_F(FileStateStoreTest, CompactionKeepsTheRecordsAfterTheOlderKeptSnapshot) {
  const std::string record(40, 'r');
  ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered(OneRecordPerSegment(2)));
  for (int i = 1; i <= 10; ++i) ASSERT_OK(store->Append(record).status());
  ASSERT_OK(store->WriteSnapshot("at 4", 4));
  ASSERT_OK(store->WriteSnapshot("at 7", 7));
  std::set<std::string> expected = {SnapshotName(4), SnapshotName(7)};
  for (int i = 5; i <= 10; ++i) expected.insert(WalSegmentName(i));
  EXPECT_EQ(DataFiles(), expected);
  ASSERT_OK(store->WriteSnapshot("at 9", 9));
  expected = {SnapshotName(7), SnapshotName(9), WalSegmentName(8), WalSegmentName(9),
              WalSegmentName(10)};
  EXPECT_EQ(DataFiles(), expected);
}

// A crash in the middle of an append leaves any prefix of the record's frame.
TEST_F(FileStateStoreTest, TornLastRecordIsCutAtEveryOffset) {
  Fill({"alpha", "bravo", "the last record, torn"});
  const std::string segment = Segment(1);
  const std::string whole = ReadBytes(segment);
  const size_t last_start = whole.size() - kWalRecordHeaderBytes - 21;
  for (size_t cut = last_start + 1; cut < whole.size(); ++cut) {
    SCOPED_TRACE(absl::StrCat("cut at ", cut));
    WriteBytes(segment, whole.substr(0, cut));
    ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered());
    EXPECT_THAT(recovered_.records, ElementsAre(Pair(1, "alpha"), Pair(2, "bravo")));
    ASSERT_THAT(recovered_.warnings, SizeIs(1));
    EXPECT_THAT(recovered_.warnings[0],
                HasSubstr(absl::StrCat("cut a torn record at ", WalSegmentName(1), " offset ",
                                       last_start)));
    EXPECT_EQ(fs::file_size(segment), last_start);
    ASSERT_OK_AND_ASSIGN(uint64_t sequence, store->Append("charlie"));
    EXPECT_EQ(sequence, 3u);
    store.reset();
    ASSERT_OK_AND_ASSIGN(store, OpenRecovered());
    EXPECT_THAT(recovered_.records,
                ElementsAre(Pair(1, "alpha"), Pair(2, "bravo"), Pair(3, "charlie")));
    EXPECT_THAT(recovered_.warnings, IsEmpty());
  }
}

TEST_F(FileStateStoreTest, DamagedLastRecordIsCutWhateverByteIsHit) {
  Fill({"alpha", "bravo", "the last record, damaged"});
  const std::string segment = Segment(1);
  const std::string whole = ReadBytes(segment);
  const size_t last_start = whole.size() - kWalRecordHeaderBytes - 24;
  for (size_t at = last_start; at < whole.size(); ++at) {
    SCOPED_TRACE(absl::StrCat("flipped byte ", at));
    std::string damaged = whole;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    WriteBytes(segment, damaged);
    ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered());
    EXPECT_THAT(recovered_.records, ElementsAre(Pair(1, "alpha"), Pair(2, "bravo")));
    ASSERT_THAT(recovered_.warnings, SizeIs(1));
    EXPECT_THAT(recovered_.warnings[0],
                HasSubstr(absl::StrCat(WalSegmentName(1), " offset ", last_start)));
    EXPECT_EQ(fs::file_size(segment), last_start);
  }
}

TEST_F(FileStateStoreTest, DamageFollowedByIntactRecordsIsAnError) {
  Fill({"one", "two, the damaged one", "three", "four"});
  const std::string segment = Segment(1);
  const std::string whole = ReadBytes(segment);
  const size_t second_start = kWalSegmentHeaderBytes + kWalRecordHeaderBytes + 3;
  const size_t third_start = second_start + kWalRecordHeaderBytes + 20;
  for (size_t at = second_start; at < third_start; ++at) {
    SCOPED_TRACE(absl::StrCat("flipped byte ", at));
    std::string damaged = whole;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    WriteBytes(segment, damaged);
    auto store = FileStateStore::Open(directory_);
    ASSERT_OK(store.status());
    const absl::Status status = (*store)->Recover().status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(status.message(),
                HasSubstr(absl::StrCat(WalSegmentName(1), " offset ", second_start, ":")));
    EXPECT_THAT(status.message(),
                HasSubstr(absl::StrCat("intact record follows at offset ", third_start)));
    // Nothing was cut: the data is still there for a person to look at.
    EXPECT_EQ(ReadBytes(segment), damaged);
  }
}

TEST_F(FileStateStoreTest, TornEndOfAnOlderSegmentIsAnError) {
  Fill({"first segment's record.................", "second"}, OneRecordPerSegment(1));
  const std::string bytes = ReadBytes(Segment(1));
  WriteBytes(Segment(1), bytes.substr(0, bytes.size() - 1));
  const auto store = OpenRecovered(OneRecordPerSegment(1));
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(),
              HasSubstr(absl::StrCat(WalSegmentName(1), " offset ", kWalSegmentHeaderBytes)));
}

TEST_F(FileStateStoreTest, SequenceGapIsAnError) {
  fs::create_directories(directory_);
  WriteBytes(Segment(1),
             EncodeWalSegmentHeader(1) + EncodeWalRecord(1, "a") + EncodeWalRecord(3, "c"));
  const auto store = OpenRecovered();
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(),
              HasSubstr(absl::StrCat(WalSegmentName(1), " offset ",
                                     kWalSegmentHeaderBytes + kWalRecordHeaderBytes + 1)));
  EXPECT_THAT(store.status().message(), HasSubstr("records are missing"));
}

TEST_F(FileStateStoreTest, SequenceGoingBackIsAnError) {
  fs::create_directories(directory_);
  WriteBytes(Segment(1), EncodeWalSegmentHeader(1) + EncodeWalRecord(1, "a") +
                             EncodeWalRecord(2, "b") + EncodeWalRecord(2, "b again"));
  const auto store = OpenRecovered();
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr("sequence goes back"));
}

TEST_F(FileStateStoreTest, MissingSegmentIsAnError) {
  const std::string record(40, 'r');
  Fill({record, record, record}, OneRecordPerSegment(1));
  fs::remove(Segment(2));
  const auto store = OpenRecovered(OneRecordPerSegment(1));
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr(absl::StrCat(WalSegmentName(3),
                                                               " offset 12: starts at record 3; "
                                                               "records 2 to 2 are missing")));
}

TEST_F(FileStateStoreTest, WrongMagicOrVersionIsAnError) {
  Fill({"a"});
  const std::string bytes = ReadBytes(Segment(1));
  std::string wrong_magic = bytes;
  wrong_magic[0] = 'X';
  WriteBytes(Segment(1), wrong_magic);
  auto store = OpenRecovered();
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr(absl::StrCat(WalSegmentName(1), " offset 0")));
  store = absl::UnknownError("released");

  std::string newer = bytes;
  newer[8] = 2;  // version 2
  WriteBytes(Segment(1), newer);
  store = OpenRecovered();
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("WAL version 2 is not supported"));
}

TEST_F(FileStateStoreTest, DamagedNewestSnapshotFallsBackToTheOlderOne) {
  {
    ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered());
    for (int i = 1; i <= 7; ++i) {
      ASSERT_OK(store->Append(absl::StrCat("record ", i)).status());
      if (i == 2) ASSERT_OK(store->WriteSnapshot("state at 2", 2));
      if (i == 5) ASSERT_OK(store->WriteSnapshot("state at 5", 5));
    }
  }
  std::string snapshot = ReadBytes(Snapshot(5));
  snapshot[30] = static_cast<char>(snapshot[30] ^ 1);
  WriteBytes(Snapshot(5), snapshot);
  {
    ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered());
    EXPECT_EQ(recovered_.snapshot, "state at 2");
    EXPECT_EQ(recovered_.snapshot_sequence, 2u);
    ASSERT_THAT(recovered_.records, SizeIs(5));
    EXPECT_EQ(recovered_.records.front(), std::make_pair(uint64_t{3}, std::string("record 3")));
    ASSERT_THAT(recovered_.warnings, SizeIs(1));
    EXPECT_THAT(recovered_.warnings[0], HasSubstr(SnapshotName(5) + " offset"));
    EXPECT_THAT(recovered_.warnings[0], HasSubstr("checksum mismatch"));
    ASSERT_OK_AND_ASSIGN(uint64_t next, store->Append("record 8"));
    EXPECT_EQ(next, 8u);
  }
  // The damaged file is kept for a person to inspect, under a name the store ignores.
  EXPECT_TRUE(fs::exists(Snapshot(5) + ".corrupt"));
  ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered());
  EXPECT_EQ(recovered_.snapshot_sequence, 2u);
  EXPECT_THAT(recovered_.records, SizeIs(6));
  EXPECT_THAT(recovered_.warnings, IsEmpty());
}

TEST_F(FileStateStoreTest, DamagedOnlySnapshotIsAnError) {
  FileStateStoreOptions keep_one;
  keep_one.snapshots_to_keep = 1;
  {
    ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered(keep_one));
    for (int i = 1; i <= 3; ++i) ASSERT_OK(store->Append("r").status());
    ASSERT_OK(store->WriteSnapshot("state at 1", 1));
    ASSERT_OK(store->WriteSnapshot("state at 3", 3));
  }
  EXPECT_THAT(DataFiles(), UnorderedElementsAre(WalSegmentName(1), SnapshotName(3)));
  std::string snapshot = ReadBytes(Snapshot(3));
  WriteBytes(Snapshot(3), snapshot.substr(0, snapshot.size() - 2));
  const auto store = OpenRecovered(keep_one);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr(SnapshotName(3) + " offset 20"));
  EXPECT_THAT(store.status().message(), HasSubstr("no usable snapshot"));
}

TEST_F(FileStateStoreTest, InterruptedSnapshotWriteIsDiscarded) {
  Fill({"a", "b"});
  const std::string temporary = Snapshot(2) + ".tmp";
  WriteBytes(temporary, "half a snaps");
  ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered());
  EXPECT_EQ(recovered_.snapshot_sequence, 0u);
  EXPECT_THAT(recovered_.records, SizeIs(2));
  EXPECT_FALSE(fs::exists(temporary));
}

TEST_F(FileStateStoreTest, UnknownFilesAreLeftAlone) {
  Fill({"a"});
  WriteBytes(PathOf("README"), "notes");
  WriteBytes(PathOf("wal-12.log"), "not a segment name");
  WriteBytes(PathOf("snapshot-abc.snap"), "not a snapshot name");
  WriteBytes(PathOf(WalSegmentName(1) + ".bak"), "a copy");
  fs::create_directories(PathOf(WalSegmentName(5)));  // a directory, not a segment
  const std::set<std::string> before = DataFiles();
  ASSERT_OK_AND_ASSIGN(auto store, OpenRecovered());
  EXPECT_THAT(recovered_.records, ElementsAre(Pair(1, "a")));
  EXPECT_THAT(recovered_.warnings, IsEmpty());
  ASSERT_OK(store->Append("b").status());
  EXPECT_EQ(DataFiles(), before);
}

TEST_F(FileStateStoreTest, DirectoryThatCannotBeCreatedIsAClearError) {
  fs::create_directories(directory_);
  WriteBytes(PathOf("plain-file"), "");
  const std::string impossible = PathOf("plain-file/store");
  const auto store = FileStateStore::Open(impossible);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(),
              HasSubstr("cannot create state store directory " + impossible));
}

TEST_F(FileStateStoreTest, SecondStoreOnTheSameDirectoryIsRefused) {
  ASSERT_OK_AND_ASSIGN(auto first, FileStateStore::Open(directory_));
  const auto second = FileStateStore::Open(directory_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  first.reset();
  ASSERT_OK(FileStateStore::Open(directory_).status());
}

TEST_F(FileStateStoreTest, BadOptionsAreRefused) {
  FileStateStoreOptions options;
  options.snapshots_to_keep = 0;
  EXPECT_EQ(FileStateStore::Open(directory_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cosched::scheduler
