// File: bench/rank_options.cc
#include "bench/rank_options.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/flags.h"
#include "common/status_macros.h"

namespace cosched::bench {

std::vector<std::string> ToRankArgs(const RankOptions& options) {
  return {"--rank",       absl::StrCat(options.rank),
          "--ranks",      absl::StrCat(options.ranks),
          "--dir",        options.dir,
          "--launch",     options.launch_name,
          "--round",      absl::StrCat(options.round),
          "--sizes",      absl::StrJoin(options.sizes, ","),
          "--impls",      absl::StrJoin(options.impls, ","),
          "--min-time",   absl::FormatDuration(options.timing.min_time),
          "--min-iters",  absl::StrCat(options.timing.min_iters),
          "--op-timeout", absl::FormatDuration(options.op_timeout)};
}

absl::StatusOr<RankOptions> ParseRankOptions(const std::vector<std::string>& args,
                                             absl::string_view subcommand) {
  ASSIGN_OR_RETURN(const std::vector<Flag> flags, SplitFlags(args));
  RankOptions options;
  for (const Flag& flag : flags) {
    if (flag.name == "--rank") {
      ASSIGN_OR_RETURN(options.rank, ParseIntFlag(flag, 0));
    } else if (flag.name == "--ranks") {
      ASSIGN_OR_RETURN(options.ranks, ParseIntFlag(flag, 1));
    } else if (flag.name == "--dir") {
      options.dir = flag.value;
    } else if (flag.name == "--launch") {
      options.launch_name = flag.value;
    } else if (flag.name == "--round") {
      ASSIGN_OR_RETURN(options.round, ParseIntFlag(flag, 0));
    } else if (flag.name == "--sizes") {
      ASSIGN_OR_RETURN(options.sizes, ParseSizeListFlag(flag, sizeof(float),
                                                        uint64_t{std::numeric_limits<int>::max()}));
    } else if (flag.name == "--impls") {
      ASSIGN_OR_RETURN(options.impls, ParseListFlag(flag));
    } else if (flag.name == "--min-time") {
      ASSIGN_OR_RETURN(options.timing.min_time, ParseDurationFlag(flag));
    } else if (flag.name == "--min-iters") {
      ASSIGN_OR_RETURN(options.timing.min_iters, ParseIntFlag(flag, 1));
    } else if (flag.name == "--op-timeout") {
      ASSIGN_OR_RETURN(options.op_timeout, ParseDurationFlag(flag));
    } else {
      return UnknownFlagError(flag, subcommand);
    }
  }
  if (options.dir.empty() || options.launch_name.empty() || options.sizes.empty() ||
      options.impls.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(subcommand,
                     " needs --dir, --launch, --sizes and --impls (it is started by "
                     "`cosched-bench allreduce`, not by hand)"));
  }
  if (options.rank >= options.ranks) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rank: ", options.rank, " is not below --ranks ", options.ranks));
  }
  return options;
}

}  // namespace cosched::bench
