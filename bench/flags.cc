// File: bench/flags.cc
#include "bench/flags.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/units.h"

namespace cosched::bench {
namespace {

absl::Status FlagError(const Flag& flag, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(flag.name, ": ", reason));
}

}  // namespace

absl::StatusOr<std::vector<Flag>> SplitFlags(const std::vector<std::string>& args) {
  std::vector<Flag> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!absl::StartsWith(arg, "-") || arg == "-" || arg == "--") {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    if (const size_t eq = arg.find('='); absl::StartsWith(arg, "--") && eq != std::string::npos) {
      flags.push_back({arg.substr(0, eq), arg.substr(eq + 1)});
      continue;
    }
    if (i + 1 >= args.size()) {
      return absl::InvalidArgumentError(absl::StrCat(arg, ": missing value"));
    }
    flags.push_back({arg, args[++i]});
  }
  return flags;
}

absl::Status UnknownFlagError(const Flag& flag, absl::string_view subcommand) {
  return absl::InvalidArgumentError(
      absl::StrCat(flag.name, ": unknown flag for '", subcommand, "'"));
}

absl::StatusOr<int> ParseIntFlag(const Flag& flag, int min_value) {
  int value = 0;
  if (!absl::SimpleAtoi(flag.value, &value)) {
    return FlagError(flag, absl::StrCat("'", flag.value, "' is not an integer"));
  }
  if (value < min_value) {
    return FlagError(flag, absl::StrCat("must be at least ", min_value, ", not ", value));
  }
  return value;
}

absl::StatusOr<absl::Duration> ParseDurationFlag(const Flag& flag) {
  auto parsed = ParseDuration(flag.value);
  if (!parsed.ok()) return FlagError(flag, parsed.status().message());
  return *parsed;
}

absl::StatusOr<std::vector<uint64_t>> ParseSizeListFlag(const Flag& flag, uint64_t multiple_of,
                                                        uint64_t max_bytes) {
  std::vector<uint64_t> sizes;
  for (absl::string_view item : absl::StrSplit(flag.value, ',')) {
    auto size = ParseByteSize(item);
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

absl::StatusOr<std::vector<std::string>> ParseListFlag(const Flag& flag) {
  std::vector<std::string> items = absl::StrSplit(flag.value, ',');
  for (const std::string& item : items) {
    if (item.empty()) return FlagError(flag, "empty item in comma-separated list");
  }
  return items;
}

}  // namespace cosched::bench
