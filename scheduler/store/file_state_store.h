// File: scheduler/store/file_state_store.h
// FileStateStore: the StateStore the scheduler runs with, in one directory:
//   wal-<first sequence>.log    WAL segments (wal_format.h); the newest takes appends and a
//                               new one starts past FileStateStoreOptions::segment_bytes
//   snapshot-<last sequence>.snap  snapshots (snapshot_format.h), written atomically
//   LOCK                        held (flock) while a store has the directory open
// After a snapshot, WAL segments that the oldest snapshot kept already covers are deleted.
// Keeping an older snapshot and the records after it is what lets recovery fall back when
// the newest snapshot is found damaged (see file_recovery.h for what recovery accepts).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/posix_io.h"
#include "scheduler/store/state_store.h"
#include "scheduler/store/wal_segment_writer.h"

namespace cosched::scheduler {

struct FileStateStoreOptions {
  // A new segment starts when a record would take the current one past this size (a record
  // larger than this gets a segment of its own).
  uint64_t segment_bytes = uint64_t{64} << 20;
  // Snapshots kept on disk (at least 1). With 2, a damaged newest snapshot still leaves the
  // one before it and every record after that one; with 1, segments go as soon as the
  // newest snapshot covers them.
  int snapshots_to_keep = 2;
};

class FileStateStore final : public StateStore {
 public:
  // Creates `directory` (and parents) if missing and locks it against a second store.
  static absl::StatusOr<std::unique_ptr<FileStateStore>> Open(
      const std::string& directory, const FileStateStoreOptions& options = {});

  absl::StatusOr<uint64_t> Append(absl::string_view record) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status WriteSnapshot(absl::string_view state, uint64_t last_sequence) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<Recovered> Recover() override ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& directory() const { return directory_; }

 private:
  FileStateStore(std::string directory, const FileStateStoreOptions& options, UniqueFd lock);

  absl::Status UsableLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Deletes snapshots beyond snapshots_to_keep, then segments the oldest kept one covers.
  void CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string directory_;
  const FileStateStoreOptions options_;
  const UniqueFd lock_;

  Mutex mu_;
  bool recovered_ ABSL_GUARDED_BY(mu_) = false;
  // Set when an append failed part-way: the file's tail is unknown until the next recovery.
  absl::Status broken_ ABSL_GUARDED_BY(mu_);
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> snapshots_ ABSL_GUARDED_BY(mu_);           // last sequences, ascending
  std::vector<uint64_t> segments_ ABSL_GUARDED_BY(mu_);            // first sequences, ascending
  std::unique_ptr<WalSegmentWriter> writer_ ABSL_GUARDED_BY(mu_);  // the newest segment
};

}  // namespace cosched::scheduler
