// File: scheduler/store/snapshot_format.h
// A snapshot file's bytes, integers little-endian:
//   "CSCHDSNP" | u32 version | u64 last sequence | u64 state length | state
//   | u32 CRC-32 of everything before
// The trailing CRC covers the whole file, so a torn or bit-flipped snapshot never decodes.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cosched::scheduler {

inline constexpr absl::string_view kSnapshotMagic = "CSCHDSNP";
inline constexpr uint32_t kSnapshotVersion = 1;

std::string EncodeSnapshot(absl::string_view state, uint64_t last_sequence);

struct DecodedSnapshot {
  std::string state;
  uint64_t last_sequence = 0;
};
// DataLoss for damage, FailedPrecondition for an unknown version; messages name `file` and
// the offset of the field that is wrong.
absl::StatusOr<DecodedSnapshot> DecodeSnapshot(absl::string_view bytes, absl::string_view file);

}  // namespace cosched::scheduler
