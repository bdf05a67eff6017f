// File: scheduler/store/store_directory.cc
#include "scheduler/store/store_directory.h"

#include <filesystem>
#include <optional>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/posix_io.h"

namespace cosched::scheduler {
namespace {

constexpr absl::string_view kWalPrefix = "wal-";
constexpr absl::string_view kWalSuffix = ".log";
constexpr absl::string_view kSnapshotPrefix = "snapshot-";
constexpr absl::string_view kSnapshotSuffix = ".snap";
constexpr size_t kSequenceDigits = 20;

// The sequence in `name` if it is exactly <prefix><20 digits><suffix>.
std::optional<uint64_t> SequenceIn(absl::string_view name, absl::string_view prefix,
                                   absl::string_view suffix) {
  if (name.size() != prefix.size() + kSequenceDigits + suffix.size() ||
      !absl::StartsWith(name, prefix) || !absl::EndsWith(name, suffix)) {
    return std::nullopt;
  }
  const absl::string_view digits = name.substr(prefix.size(), kSequenceDigits);
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  uint64_t sequence = 0;
  if (!absl::SimpleAtoi(digits, &sequence)) return std::nullopt;
  return sequence;
}

bool IsStoreFileName(absl::string_view name) {
  return SequenceIn(name, kWalPrefix, kWalSuffix) ||
         SequenceIn(name, kSnapshotPrefix, kSnapshotSuffix);
}

}  // namespace

std::string WalSegmentName(uint64_t first_sequence) {
  return absl::StrFormat("%s%020u%s", kWalPrefix, first_sequence, kWalSuffix);
}

std::string SnapshotName(uint64_t last_sequence) {
  return absl::StrFormat("%s%020u%s", kSnapshotPrefix, last_sequence, kSnapshotSuffix);
}

absl::StatusOr<StoreListing> ListStoreDirectory(const std::string& directory) {
  StoreListing listing;
  std::error_code error;
  std::filesystem::directory_iterator it(directory, error);
  for (; !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (!it->is_regular_file(error)) continue;
    const std::string name = it->path().filename().string();
    if (auto sequence = SequenceIn(name, kWalPrefix, kWalSuffix)) {
      listing.segments.emplace(*sequence, name);
    } else if (auto last = SequenceIn(name, kSnapshotPrefix, kSnapshotSuffix)) {
      listing.snapshots.emplace(*last, name);
    } else if (absl::EndsWith(name, kTemporarySuffix) &&
               IsStoreFileName(
                   absl::string_view(name).substr(0, name.size() - kTemporarySuffix.size()))) {
      listing.temporaries.push_back(name);
    }
  }
  if (error) {
    return absl::ErrnoToStatus(error.value(),
                               absl::StrCat("cannot list state store directory ", directory));
  }
  return listing;
}

}  // namespace cosched::scheduler
