// File: common/units.cc
#include "common/units.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cosched {
namespace {

constexpr std::array<std::pair<absl::string_view, uint64_t>, 7> kByteUnits = {{
    {"GiB", uint64_t{1} << 30},
    {"MiB", uint64_t{1} << 20},
    {"KiB", uint64_t{1} << 10},
    {"GB", 1000ull * 1000 * 1000},
    {"MB", 1000ull * 1000},
    {"KB", 1000ull},
    {"B", 1ull},
}};

}  // namespace

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  absl::string_view digits = text;
  uint64_t multiplier = 1;
  for (const auto& [suffix, factor] : kByteUnits) {
    if (digits.size() > suffix.size() && absl::EndsWith(digits, suffix)) {
      digits.remove_suffix(suffix.size());
      multiplier = factor;
      break;
    }
  }
  uint64_t value = 0;
  const bool all_digits =
      !digits.empty() && std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit);
  if (!all_digits || !absl::SimpleAtoi(digits, &value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a byte size (examples: 4096, 64KiB, 16MiB, 1GB)"));
  }
  if (value > std::numeric_limits<uint64_t>::max() / multiplier) {
    return absl::InvalidArgumentError(absl::StrCat("byte size '", text, "' is too large"));
  }
  return value * multiplier;
}

std::string FormatByteSize(uint64_t bytes) {
  for (const auto& [suffix, factor] : kByteUnits) {
    if (!absl::StrContains(suffix, "i")) continue;  // binary units only
    if (bytes >= factor && bytes % factor == 0) return absl::StrCat(bytes / factor, suffix);
  }
  return absl::StrCat(bytes, "B");
}

absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a duration (examples: 30s, 250ms, 1.5s, 2m)"));
  }
  return d;
}

}  // namespace cosched
