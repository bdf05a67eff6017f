// File: scheduler/store/snapshot_format.cc
#include "scheduler/store/snapshot_format.h"

#include "absl/strings/str_cat.h"
#include "scheduler/store/encoding.h"

namespace cosched::scheduler {
namespace {

constexpr size_t kHeaderBytes = 28;  // magic, version, last sequence, state length
constexpr size_t kTrailerBytes = 4;  // CRC-32

}  // namespace

std::string EncodeSnapshot(absl::string_view state, uint64_t last_sequence) {
  std::string bytes(kSnapshotMagic);
  bytes.reserve(kHeaderBytes + state.size() + kTrailerBytes);
  PutU32(&bytes, kSnapshotVersion);
  PutU64(&bytes, last_sequence);
  PutU64(&bytes, state.size());
  bytes.append(state.data(), state.size());
  PutU32(&bytes, Crc32(bytes));
  return bytes;
}

absl::StatusOr<DecodedSnapshot> DecodeSnapshot(absl::string_view bytes, absl::string_view file) {
  if (bytes.size() < kHeaderBytes + kTrailerBytes) {
    return absl::DataLossError(absl::StrCat(file, " offset ", bytes.size(),
                                            ": snapshot cut short (", bytes.size(), " bytes)"));
  }
  if (bytes.substr(0, kSnapshotMagic.size()) != kSnapshotMagic) {
    return absl::DataLossError(
        absl::StrCat(file, " offset 0: not a cosched snapshot (wrong magic)"));
  }
  const uint32_t version = GetU32(bytes.substr(8));
  if (version != kSnapshotVersion) {
    return absl::FailedPreconditionError(absl::StrCat(file, " offset 8: snapshot version ", version,
                                                      " is not supported (this build reads ",
                                                      kSnapshotVersion, ")"));
  }
  const uint64_t length = GetU64(bytes.substr(20));
  if (length != bytes.size() - kHeaderBytes - kTrailerBytes) {
    return absl::DataLossError(absl::StrCat(file, " offset 20: state length ", length,
                                            " does not match the file size ", bytes.size()));
  }
  const size_t crc_offset = bytes.size() - kTrailerBytes;
  if (GetU32(bytes.substr(crc_offset)) != Crc32(bytes.substr(0, crc_offset))) {
    return absl::DataLossError(
        absl::StrCat(file, " offset ", crc_offset, ": snapshot checksum mismatch"));
  }
  DecodedSnapshot snapshot;
  snapshot.last_sequence = GetU64(bytes.substr(12));
  snapshot.state = std::string(bytes.substr(kHeaderBytes, length));
  return snapshot;
}

}  // namespace cosched::scheduler
