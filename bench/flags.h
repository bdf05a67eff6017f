// File: bench/flags.h
// A hand-rolled command-line reader (the project does not use gflags): `--name value`,
// `--name=value` and the short `-o value`. Every error names the flag it is about, so
// main() can print it and exit with status 2.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cosched::bench {

struct Flag {
  std::string name;  // as typed, with its dashes: "--ranks", "-o"
  std::string value;
};

// Splits `args` (argv without the program and subcommand) into flags. Every flag takes a
// value; a positional argument or a flag missing its value is an InvalidArgument error.
absl::StatusOr<std::vector<Flag>> SplitFlags(const std::vector<std::string>& args);

// The error for a flag the subcommand does not know.
absl::Status UnknownFlagError(const Flag& flag, absl::string_view subcommand);

// Value parsers; errors read "--flag: <reason>".
absl::StatusOr<int> ParseIntFlag(const Flag& flag, int min_value);
absl::StatusOr<absl::Duration> ParseDurationFlag(const Flag& flag);
// A comma-separated list of byte sizes ("4KiB,1MiB"), each a positive multiple of
// `multiple_of` bytes and at most `max_bytes`.
absl::StatusOr<std::vector<uint64_t>> ParseSizeListFlag(const Flag& flag, uint64_t multiple_of,
                                                        uint64_t max_bytes);
// A comma-separated list of non-empty words.
absl::StatusOr<std::vector<std::string>> ParseListFlag(const Flag& flag);

}  // namespace cosched::bench
