// File: scheduler/store/store_rules.cc
#include "scheduler/store/store_rules.h"

#include "absl/strings/str_cat.h"

namespace cosched::scheduler {

absl::Status CheckRecordSize(size_t bytes) {
  if (bytes <= kMaxStateStoreRecordBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("record of ", bytes, " bytes is larger than the ",
                                                 kMaxStateStoreRecordBytes, "-byte limit"));
}

absl::Status CheckSnapshotSequence(uint64_t last_sequence, uint64_t newest_snapshot_sequence,
                                   uint64_t last_used_sequence) {
  if (last_sequence == 0) {
    return absl::InvalidArgumentError("a snapshot must cover at least record 1 (last_sequence 0)");
  }
  if (last_sequence > last_used_sequence) {
    return absl::InvalidArgumentError(absl::StrCat("snapshot covers record ", last_sequence,
                                                   " but the last record appended is ",
                                                   last_used_sequence));
  }
  if (last_sequence < newest_snapshot_sequence) {
    return absl::InvalidArgumentError(absl::StrCat("snapshot covers records up to ", last_sequence,
                                                   ", older than the newest snapshot (",
                                                   newest_snapshot_sequence, ")"));
  }
  return absl::OkStatus();
}

absl::Status NotRecoveredError() {
  return absl::FailedPreconditionError("state store: call Recover() before Append/WriteSnapshot");
}

}  // namespace cosched::scheduler
