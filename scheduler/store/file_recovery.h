// File: scheduler/store/file_recovery.h
// Recovery of a file store directory: picks the newest snapshot that decodes, replays the
// WAL after it, and sorts damage into what a crash can leave (a torn record at the very end
// of the last segment: cut off with a warning) and what it cannot (damage with intact records
// after it, missing or repeated sequence numbers, unknown formats: an error naming the file
// and offset). It changes nothing on disk unless the whole directory checks out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "scheduler/store/state_store.h"

namespace cosched::scheduler {

struct FileStoreRecovery {
  StateStore::Recovered recovered;
  // The highest sequence number handed out or covered by the snapshot; appends go on after.
  uint64_t last_sequence = 0;
  std::vector<uint64_t> snapshots;  // last sequences of snapshots on disk, ascending
  std::vector<uint64_t> segments;   // first sequences of WAL segments, ascending
  struct Tail {
    uint64_t first_sequence = 0;
    uint64_t size = 0;  // intact bytes, after any cut
  };
  // The last segment, when appends can continue in it (it ends at last_sequence).
  std::optional<Tail> tail;
};

// Reads `directory`, then cuts a torn tail, sets corrupt snapshots that were skipped aside
// (renamed to <name>.corrupt) and removes interrupted temporary files.
absl::StatusOr<FileStoreRecovery> RecoverStoreDirectory(const std::string& directory);

}  // namespace cosched::scheduler
