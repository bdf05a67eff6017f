// File: bench/flags.cc
#include "bench/flags.h"

#include <cmath>
#include <cstdio>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/units.h"

namespace cosched::bench {
namespace {

absl::Status FlagError(absl::string_view flag, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", reason));
}

}  // namespace

SubcommandFlags::SubcommandFlags(absl::string_view subcommand)
    : command_(absl::StrCat("cosched-bench ", subcommand)), parser_(command_) {}

absl::Status SubcommandFlags::Parse(const std::vector<std::string>& args) {
  if (absl::Status status = parser_.Parse(args); !status.ok()) return status;
  if (!parser_.positional().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(command_, ": unexpected argument '",
                                                   parser_.positional().front(), "' (see --help)"));
  }
  return absl::OkStatus();
}

std::optional<int> SubcommandFlags::ParseOrExitCode(const std::vector<std::string>& args,
                                                    absl::string_view more_help) {
  const absl::Status status = Parse(args);
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n%s", std::string(status.message()).c_str(), parser_.Usage().c_str());
    return 2;
  }
  if (parser_.help_requested()) {
    // Asked for, so on stdout, like `cosched-bench help`.
    std::fprintf(stdout, "%s%s", parser_.Usage().c_str(), std::string(more_help).c_str());
    return 0;
  }
  return std::nullopt;
}

int SubcommandFlags::ValueError(const absl::Status& error) const {
  std::fprintf(stderr, "%s: %s\n%s", command_.c_str(), std::string(error.message()).c_str(),
               parser_.Usage().c_str());
  return 2;
}

absl::StatusOr<int> IntAtLeast(absl::string_view flag, int64_t value, int min_value) {
  if (value < min_value) {
    return FlagError(flag, absl::StrCat("must be at least ", min_value, ", not ", value));
  }
  if (value > std::numeric_limits<int>::max()) {
    return FlagError(flag, absl::StrCat(value, " is too large"));
  }
  return static_cast<int>(value);
}

absl::StatusOr<std::vector<uint64_t>> ParseSizeList(absl::string_view flag, absl::string_view text,
                                                    uint64_t multiple_of, uint64_t max_bytes) {
  std::vector<uint64_t> sizes;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    absl::StatusOr<uint64_t> size = ParseByteSize(item);
    if (!size.ok()) return FlagError(flag, size.status().message());
    if (*size == 0 || *size % multiple_of != 0 || *size > max_bytes) {
      return FlagError(
          flag, absl::StrCat("size '", item, "' must be a positive multiple of ", multiple_of,
                             " bytes, at most ", FormatByteSize(max_bytes)));
    }
    sizes.push_back(*size);
  }
  return sizes;
}

absl::StatusOr<double> ParseLinkRate(absl::string_view flag, absl::string_view text) {
  double mbit = 0;
  if (!absl::SimpleAtod(text, &mbit) || !std::isfinite(mbit)) {
    return FlagError(flag, absl::StrCat("'", text, "' is not a number of Mbit/s"));
  }
  if (mbit < 0 || (mbit > 0 && mbit < 0.001)) {
    return FlagError(flag,
                     absl::StrCat("must be 0 (unshaped) or at least 0.001 Mbit/s, not ", text));
  }
  return mbit;
}

absl::StatusOr<std::vector<std::string>> ParseNameList(absl::string_view flag,
                                                       absl::string_view text) {
  if (text.empty()) return std::vector<std::string>();
  std::vector<std::string> names = absl::StrSplit(text, ',');
  for (const std::string& name : names) {
    if (name.empty()) return FlagError(flag, "empty item in comma-separated list");
  }
  return names;
}

}  // namespace cosched::bench
