// File: scheduler/store/store_rules.h
// Argument checks every StateStore applies the same way, so the file and in-memory stores
// refuse the same calls with the same messages.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace cosched::scheduler {

// The largest record Append accepts. The WAL frame has a 32-bit length; a lower bound keeps
// "impossible length" meaningful when recovery meets a damaged frame.
inline constexpr size_t kMaxStateStoreRecordBytes = size_t{1} << 30;

// OK unless the record is larger than kMaxStateStoreRecordBytes.
absl::Status CheckRecordSize(size_t bytes);

// OK when a snapshot covering `last_sequence` may be written: it covers at least one record,
// no record that has not been appended yet (`last_used_sequence` is the highest sequence
// handed out or covered by a recovered snapshot), and is not older than the newest snapshot.
absl::Status CheckSnapshotSequence(uint64_t last_sequence, uint64_t newest_snapshot_sequence,
                                   uint64_t last_used_sequence);

// The FailedPrecondition returned by Append / WriteSnapshot before Recover succeeded.
absl::Status NotRecoveredError();

}  // namespace cosched::scheduler
