// File: scheduler/store/store_directory.h
// Names of the file store's files and a listing of a store directory. Sequence numbers are
// zero-padded so that names sort in sequence order:
//   wal-<first sequence, 20 digits>.log       a WAL segment
//   snapshot-<last sequence, 20 digits>.snap  a snapshot
//   <either>.tmp                              an interrupted atomic write (safe to delete)
// Anything else in the directory (LOCK, files set aside, a README) is not the store's data
// and is left alone.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cosched::scheduler {

std::string WalSegmentName(uint64_t first_sequence);
std::string SnapshotName(uint64_t last_sequence);

struct StoreListing {
  std::map<uint64_t, std::string> segments;   // first sequence -> file name
  std::map<uint64_t, std::string> snapshots;  // last sequence -> file name
  std::vector<std::string> temporaries;       // file names
};
absl::StatusOr<StoreListing> ListStoreDirectory(const std::string& directory);

}  // namespace cosched::scheduler
