// File: scheduler/store/file_state_store.cc
#include "scheduler/store/file_state_store.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "scheduler/store/file_recovery.h"
#include "scheduler/store/snapshot_format.h"
#include "scheduler/store/store_directory.h"
#include "scheduler/store/store_rules.h"
#include "scheduler/store/wal_format.h"

namespace cosched::scheduler {

FileStateStore::FileStateStore(std::string directory, const FileStateStoreOptions& options,
                               UniqueFd lock)
    : directory_(std::move(directory)), options_(options), lock_(std::move(lock)) {}

absl::StatusOr<std::unique_ptr<FileStateStore>> FileStateStore::Open(
    const std::string& directory, const FileStateStoreOptions& options) {
  if (options.snapshots_to_keep < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("state store option snapshots_to_keep must be at least 1, got ",
                     options.snapshots_to_keep));
  }
  std::error_code error;
  const bool created = std::filesystem::create_directories(directory, error);
  if (error) {
    return absl::ErrnoToStatus(error.value(),
                               absl::StrCat("cannot create state store directory ", directory));
  }
  // A new directory's own name must be durable too, or a crash could lose the whole store.
  if (created) RETURN_IF_ERROR(FsyncDirectory(absl::StrCat(directory, "/..")));
  const std::string lock_path = absl::StrCat(directory, "/LOCK");
  ASSIGN_OR_RETURN(UniqueFd lock, OpenFile(lock_path, O_RDWR | O_CREAT));
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state store ", directory, " is in use (another store holds ", lock_path, ")"));
    }
    return ErrnoError("cannot lock", lock_path);
  }
  return std::unique_ptr<FileStateStore>(new FileStateStore(directory, options, std::move(lock)));
}

absl::Status FileStateStore::UsableLocked() const {
  if (!recovered_) return NotRecoveredError();
  if (!broken_.ok()) {
    return absl::Status(broken_.code(),
                        absl::StrCat("state store unusable after a failed append (reopen and "
                                     "recover): ",
                                     broken_.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FileStateStore::Append(absl::string_view record) {
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(UsableLocked());
  RETURN_IF_ERROR(CheckRecordSize(record.size()));
  const uint64_t sequence = last_sequence_ + 1;
  const uint64_t frame_bytes = kWalRecordHeaderBytes + record.size();
  if (writer_ == nullptr || writer_->next_sequence() != sequence ||
      (writer_->has_records() && writer_->size() + frame_bytes > options_.segment_bytes)) {
    ASSIGN_OR_RETURN(writer_, WalSegmentWriter::Create(directory_, sequence));
    segments_.push_back(sequence);
  }
  absl::Status status = writer_->Append(record);
  if (!status.ok()) {
    broken_ = status;
    return status;
  }
  last_sequence_ = sequence;
  return sequence;
}

absl::Status FileStateStore::WriteSnapshot(absl::string_view state, uint64_t last_sequence) {
  MutexLock lock(&mu_);
  RETURN_IF_ERROR(UsableLocked());
  RETURN_IF_ERROR(CheckSnapshotSequence(last_sequence, snapshots_.empty() ? 0 : snapshots_.back(),
                                        last_sequence_));
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(directory_, "/", SnapshotName(last_sequence)),
                                      EncodeSnapshot(state, last_sequence)));
  if (snapshots_.empty() || snapshots_.back() != last_sequence) snapshots_.push_back(last_sequence);
  CompactLocked();
  return absl::OkStatus();
}

void FileStateStore::CompactLocked() {
  // Failing to delete wastes disk but loses nothing, so it is logged, not returned: the
  // snapshot itself is safely written. What was not deleted is retried after the next one.
  while (snapshots_.size() > static_cast<size_t>(options_.snapshots_to_keep)) {
    const std::string path = absl::StrCat(directory_, "/", SnapshotName(snapshots_.front()));
    if (absl::Status status = RemoveFile(path); !status.ok()) {
      spdlog::warn("state store compaction: {}", status.ToString());
      break;
    }
    snapshots_.erase(snapshots_.begin());
  }
  // A segment is wholly covered when the one after it starts at or before the record after
  // the oldest kept snapshot. The newest segment takes appends and always stays.
  const uint64_t covered = snapshots_.front();
  while (segments_.size() >= 2 && segments_[1] <= covered + 1) {
    const std::string path = absl::StrCat(directory_, "/", WalSegmentName(segments_.front()));
    if (absl::Status status = RemoveFile(path); !status.ok()) {
      spdlog::warn("state store compaction: {}", status.ToString());
      break;
    }
    segments_.erase(segments_.begin());
  }
}

absl::StatusOr<StateStore::Recovered> FileStateStore::Recover() {
  MutexLock lock(&mu_);
  if (recovered_) return absl::FailedPreconditionError("state store: Recover() called twice");
  ASSIGN_OR_RETURN(FileStoreRecovery recovery, RecoverStoreDirectory(directory_));
  if (recovery.tail) {
    ASSIGN_OR_RETURN(writer_,
                     WalSegmentWriter::Continue(directory_, recovery.tail->first_sequence,
                                                recovery.tail->size, recovery.last_sequence + 1));
  }
  last_sequence_ = recovery.last_sequence;
  snapshots_ = std::move(recovery.snapshots);
  segments_ = std::move(recovery.segments);
  recovered_ = true;
  return std::move(recovery.recovered);
}

}  // namespace cosched::scheduler
