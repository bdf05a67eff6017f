// File: scheduler/store/wal_format.cc
#include "scheduler/store/wal_format.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "scheduler/store/encoding.h"
#include "scheduler/store/store_rules.h"

namespace cosched::scheduler {
namespace {

uint32_t RecordCrc(uint64_t sequence, absl::string_view payload) {
  std::string sequence_bytes;
  PutU64(&sequence_bytes, sequence);
  return Crc32(payload, Crc32(sequence_bytes));
}

}  // namespace

std::string EncodeWalSegmentHeader(uint64_t first_sequence) {
  std::string header(kWalMagic);
  PutU32(&header, kWalVersion);
  PutU64(&header, first_sequence);
  PutU32(&header, Crc32(header));
  return header;
}

std::string EncodeWalRecord(uint64_t sequence, absl::string_view payload) {
  std::string frame;
  frame.reserve(kWalRecordHeaderBytes + payload.size());
  PutU32(&frame, static_cast<uint32_t>(payload.size()));
  PutU64(&frame, sequence);
  PutU32(&frame, RecordCrc(sequence, payload));
  frame.append(payload.data(), payload.size());
  return frame;
}

absl::StatusOr<uint64_t> ParseWalSegmentHeader(absl::string_view segment, absl::string_view file) {
  if (segment.size() < kWalSegmentHeaderBytes) {
    return absl::DataLossError(absl::StrCat(file, " offset 0: segment header cut short (",
                                            segment.size(), " of ", kWalSegmentHeaderBytes,
                                            " bytes)"));
  }
  if (segment.substr(0, kWalMagic.size()) != kWalMagic) {
    return absl::DataLossError(
        absl::StrCat(file, " offset 0: not a cosched WAL segment (wrong magic)"));
  }
  const uint32_t version = GetU32(segment.substr(8));
  if (version != kWalVersion) {
    return absl::FailedPreconditionError(absl::StrCat(file, " offset 8: WAL version ", version,
                                                      " is not supported (this build reads ",
                                                      kWalVersion, ")"));
  }
  if (GetU32(segment.substr(20)) != Crc32(segment.substr(0, 20))) {
    return absl::DataLossError(absl::StrCat(file, " offset 20: segment header checksum mismatch"));
  }
  const uint64_t first_sequence = GetU64(segment.substr(12));
  if (first_sequence == 0) {
    return absl::DataLossError(absl::StrCat(file, " offset 12: first sequence is 0"));
  }
  return first_sequence;
}

absl::StatusOr<WalFrame> ReadWalFrame(absl::string_view segment, size_t offset) {
  const size_t left = segment.size() - offset;
  if (left < kWalRecordHeaderBytes) {
    return absl::DataLossError(
        absl::StrCat("record header cut short (", left, " of ", kWalRecordHeaderBytes, " bytes)"));
  }
  const absl::string_view header = segment.substr(offset, kWalRecordHeaderBytes);
  const uint32_t length = GetU32(header);
  if (length > kMaxStateStoreRecordBytes) {
    return absl::DataLossError(absl::StrCat("impossible record length ", length));
  }
  if (length > left - kWalRecordHeaderBytes) {
    return absl::DataLossError(absl::StrCat("record of ", length, " bytes cut short (",
                                            left - kWalRecordHeaderBytes, " bytes left)"));
  }
  WalFrame frame;
  frame.sequence = GetU64(header.substr(4));
  frame.payload = segment.substr(offset + kWalRecordHeaderBytes, length);
  frame.end_offset = offset + kWalRecordHeaderBytes + length;
  if (GetU32(header.substr(12)) != RecordCrc(frame.sequence, frame.payload)) {
    return absl::DataLossError("record checksum mismatch");
  }
  return frame;
}

std::optional<size_t> FindIntactWalFrameAfter(absl::string_view segment, size_t offset,
                                              uint64_t expected) {
  // Every frame takes at least a header, which bounds the sequences that can still follow;
  // checking it before the CRC keeps this cheap on random bytes.
  const uint64_t highest_possible = expected + (segment.size() - offset) / kWalRecordHeaderBytes;
  for (size_t at = offset + 1; at + kWalRecordHeaderBytes <= segment.size(); ++at) {
    const uint64_t sequence = GetU64(segment.substr(at + 4));
    if (sequence < expected || sequence > highest_possible) continue;
    if (ReadWalFrame(segment, at).ok()) return at;
  }
  return std::nullopt;
}

absl::StatusOr<WalSegmentScan> ScanWalSegment(absl::string_view segment, absl::string_view file,
                                              uint64_t keep_after) {
  WalSegmentScan scan;
  ASSIGN_OR_RETURN(scan.first_sequence, ParseWalSegmentHeader(segment, file));
  scan.next_sequence = scan.first_sequence;
  size_t offset = kWalSegmentHeaderBytes;
  while (offset < segment.size()) {
    absl::StatusOr<WalFrame> frame = ReadWalFrame(segment, offset);
    if (!frame.ok()) {
      scan.damage = WalDamage{offset, std::string(frame.status().message()),
                              FindIntactWalFrameAfter(segment, offset, scan.next_sequence)};
      break;
    }
    if (frame->sequence != scan.next_sequence) {
      return absl::DataLossError(absl::StrCat(
          file, " offset ", offset, ": record sequence ", frame->sequence, " where ",
          scan.next_sequence, " was expected (",
          frame->sequence > scan.next_sequence ? "records are missing" : "sequence goes back",
          ")"));
    }
    if (frame->sequence > keep_after) {
      scan.records.emplace_back(frame->sequence, std::string(frame->payload));
    }
    ++scan.next_sequence;
    offset = frame->end_offset;
  }
  scan.intact_bytes = offset;
  return scan;
}

}  // namespace cosched::scheduler
