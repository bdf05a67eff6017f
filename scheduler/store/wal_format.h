// File: scheduler/store/wal_format.h
// The write-ahead log's bytes. A segment file is a header and then framed records, integers
// little-endian:
//   header  "CSCHDWAL" | u32 version | u64 first sequence | u32 CRC-32 of the 20 bytes before
//   record  u32 payload length | u64 sequence | u32 CRC-32 of (sequence, payload) | payload
// Reading a segment stops at the first frame it cannot use and says where and why; whether
// that is a torn tail to cut or lost data is the caller's decision (it knows which segment
// is the last one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cosched::scheduler {

inline constexpr absl::string_view kWalMagic = "CSCHDWAL";
inline constexpr uint32_t kWalVersion = 1;
inline constexpr size_t kWalSegmentHeaderBytes = 24;
inline constexpr size_t kWalRecordHeaderBytes = 16;

std::string EncodeWalSegmentHeader(uint64_t first_sequence);
// The record's frame header followed by its payload.
std::string EncodeWalRecord(uint64_t sequence, absl::string_view payload);

// The first sequence a segment header announces. DataLoss for a short or damaged header or a
// wrong magic, FailedPrecondition for an unknown version; messages name `file` and the offset.
absl::StatusOr<uint64_t> ParseWalSegmentHeader(absl::string_view segment, absl::string_view file);

struct WalFrame {
  uint64_t sequence = 0;
  absl::string_view payload;
  size_t end_offset = 0;  // where the next frame starts
};
// The intact frame at `offset`, or DataLoss whose message is only the reason ("checksum
// mismatch", "impossible length ...", ...); callers add the file and offset.
absl::StatusOr<WalFrame> ReadWalFrame(absl::string_view segment, size_t offset);

// Where an intact frame whose sequence could follow a damaged one (>= `expected`) starts
// after `offset`, or nullopt. Tells a torn tail (nothing readable follows) from damage in
// the middle of the log (intact records follow).
std::optional<size_t> FindIntactWalFrameAfter(absl::string_view segment, size_t offset,
                                              uint64_t expected);

struct WalDamage {
  size_t offset = 0;                         // where the unusable frame starts
  std::string reason;                        // why it is unusable
  std::optional<size_t> intact_frame_after;  // an intact frame further on, if any
};

struct WalSegmentScan {
  uint64_t first_sequence = 0;
  uint64_t next_sequence = 0;  // one past the last intact record
  size_t intact_bytes = 0;     // the offset just past the last intact record
  std::vector<std::pair<uint64_t, std::string>> records;  // those with sequence > keep_after
  std::optional<WalDamage> damage;  // set when the scan stopped before the end
};

// Reads a whole segment. Errors (naming `file` and the offset): a bad header, and an intact
// record whose sequence is not the next one (a gap or a step back is never a torn write).
absl::StatusOr<WalSegmentScan> ScanWalSegment(absl::string_view segment, absl::string_view file,
                                              uint64_t keep_after);

}  // namespace cosched::scheduler
