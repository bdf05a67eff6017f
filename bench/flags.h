// File: bench/flags.h
// What cosched-bench's subcommands add to common/flags.h (FlagParser, which reads the flags
// themselves): the exit codes of a subcommand's command line, and checks of the values
// FlagParser reads only as int64 or as text (an int with a lower bound, comma-separated lists
// of byte sizes or of names). Every error names the flag it is about.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/flags.h"

namespace cosched::bench {

// One subcommand's command line. Declare its flags on parser(), then Parse the arguments that
// follow the subcommand; subcommands take no positional arguments.
class SubcommandFlags {
 public:
  explicit SubcommandFlags(absl::string_view subcommand);  // "allreduce"
  SubcommandFlags(const SubcommandFlags&) = delete;
  SubcommandFlags& operator=(const SubcommandFlags&) = delete;

  FlagParser& parser() { return parser_; }

  // InvalidArgument naming the bad flag or the stray argument. --help is not an error; see
  // parser().help_requested().
  absl::Status Parse(const std::vector<std::string>& args);

  // For a subcommand's entry point: the exit code to return at once, or nullopt to carry on.
  // 0 after --help (the usage, then `more_help`, printed on stdout); 2 after a bad flag (the
  // error and the usage printed on stderr).
  std::optional<int> ParseOrExitCode(const std::vector<std::string>& args,
                                     absl::string_view more_help = "");

  // For an error in the values, found after parsing (a number out of range, a bad list):
  // prints it and the usage on stderr and returns 2, the exit code of a bad command line.
  int ValueError(const absl::Status& error) const;

 private:
  const std::string command_;  // "cosched-bench allreduce"
  FlagParser parser_;
};

// `value`, as read by FlagParser::Int for `flag` ("--ranks"), as an int of at least
// `min_value`.
absl::StatusOr<int> IntAtLeast(absl::string_view flag, int64_t value, int min_value);

// A comma-separated list of byte sizes ("4KiB,1MiB"), each a positive multiple of
// `multiple_of` bytes and at most `max_bytes`.
absl::StatusOr<std::vector<uint64_t>> ParseSizeList(absl::string_view flag, absl::string_view text,
                                                    uint64_t multiple_of, uint64_t max_bytes);

// A link rate in Mbit/s ("100", "2.5"): 0 for an unshaped link, else at least 0.001 (the
// finest rate tc is given here, bench/bench_hosts.h). Not negative, not NaN or infinite.
absl::StatusOr<double> ParseLinkRate(absl::string_view flag, absl::string_view text);

// A comma-separated list of non-empty names; "" is the empty list.
absl::StatusOr<std::vector<std::string>> ParseNameList(absl::string_view flag,
                                                       absl::string_view text);

}  // namespace cosched::bench
