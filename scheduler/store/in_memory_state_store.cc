// File: scheduler/store/in_memory_state_store.cc
#include "scheduler/store/in_memory_state_store.h"

#include "common/status_macros.h"
#include "scheduler/store/store_rules.h"

namespace cosched::scheduler {

InMemoryStateStore::InMemoryStateStore() : disk_(std::make_shared<Disk>()) {}

InMemoryStateStore::InMemoryStateStore(std::shared_ptr<Disk> disk) : disk_(std::move(disk)) {}

absl::StatusOr<uint64_t> InMemoryStateStore::Append(absl::string_view record) {
  MutexLock lock(&mu_);
  if (!recovered_) return NotRecoveredError();
  RETURN_IF_ERROR(CheckRecordSize(record.size()));
  MutexLock disk_lock(&disk_->mu_);
  const uint64_t sequence = ++disk_->last_sequence_;
  disk_->records_.emplace_back(sequence, std::string(record));
  return sequence;
}

absl::Status InMemoryStateStore::WriteSnapshot(absl::string_view state, uint64_t last_sequence) {
  MutexLock lock(&mu_);
  if (!recovered_) return NotRecoveredError();
  MutexLock disk_lock(&disk_->mu_);
  RETURN_IF_ERROR(
      CheckSnapshotSequence(last_sequence, disk_->snapshot_sequence_, disk_->last_sequence_));
  disk_->snapshot_ = std::string(state);
  disk_->snapshot_sequence_ = last_sequence;
  // Compaction: the records the snapshot covers are no longer needed.
  while (!disk_->records_.empty() && disk_->records_.front().first <= last_sequence) {
    disk_->records_.pop_front();
  }
  return absl::OkStatus();
}

absl::StatusOr<StateStore::Recovered> InMemoryStateStore::Recover() {
  MutexLock lock(&mu_);
  if (recovered_) return absl::FailedPreconditionError("state store: Recover() called twice");
  MutexLock disk_lock(&disk_->mu_);
  Recovered recovered;
  recovered.snapshot = disk_->snapshot_;
  recovered.snapshot_sequence = disk_->snapshot_sequence_;
  recovered.records.assign(disk_->records_.begin(), disk_->records_.end());
  recovered_ = true;
  return recovered;
}

}  // namespace cosched::scheduler
