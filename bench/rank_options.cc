// File: bench/rank_options.cc
#include "bench/rank_options.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/flags.h"
#include "common/status_macros.h"

namespace cosched::bench {

std::vector<std::string> ToRankArgs(const RankOptions& options) {
  std::vector<std::string> args = {"--rank",       absl::StrCat(options.rank),
                                   "--ranks",      absl::StrCat(options.ranks),
                                   "--dir",        options.dir,
                                   "--launch",     options.launch_name,
                                   "--round",      absl::StrCat(options.round),
                                   "--sizes",      absl::StrJoin(options.sizes, ","),
                                   "--impls",      absl::StrJoin(options.impls, ","),
                                   "--min-time",   absl::FormatDuration(options.timing.min_time),
                                   "--min-iters",  absl::StrCat(options.timing.min_iters),
                                   "--op-timeout", absl::FormatDuration(options.op_timeout)};
  args.insert(args.end(), {"--advertise-address", options.advertise_address});
  return args;
}

absl::StatusOr<RankOptions> ParseRankOptions(const std::vector<std::string>& args,
                                             absl::string_view subcommand) {
  RankOptions options;
  // What FlagParser reads as int64 or text, checked into `options` below.
  int64_t rank = options.rank;
  int64_t ranks = options.ranks;
  int64_t round = options.round;
  std::string sizes;
  std::string impls;
  int64_t min_iters = options.timing.min_iters;
  SubcommandFlags flags(subcommand);
  FlagParser& parser = flags.parser();
  parser.Int("rank", &rank, "this rank (gloo launches; MPI ranks learn theirs from MPI)");
  parser.Int("ranks", &ranks, "world size");
  parser.String("dir", &options.dir, "sample files (and the gloo ranks' rendezvous store)");
  parser.String("launch", &options.launch_name, "names this launch's files and keys");
  parser.Int("round", &round, "rotates the order in which implementations run");
  parser.String("sizes", &sizes, "message sizes, comma-separated");
  parser.String("impls", &impls, "implementations, comma-separated");
  parser.Duration("min-time", &options.timing.min_time, "time per sample at least this long");
  parser.Int("min-iters", &min_iters, "and at least this many iterations");
  parser.Duration("op-timeout", &options.op_timeout, "limit for rendezvous and each collective");
  parser.String("advertise-address", &options.advertise_address,
                "address this rank listens on and advertises (gloo launches)");
  RETURN_IF_ERROR(flags.Parse(args));

  ASSIGN_OR_RETURN(options.rank, IntAtLeast("--rank", rank, 0));
  ASSIGN_OR_RETURN(options.ranks, IntAtLeast("--ranks", ranks, 1));
  ASSIGN_OR_RETURN(options.round, IntAtLeast("--round", round, 0));
  if (!sizes.empty()) {
    ASSIGN_OR_RETURN(options.sizes, ParseSizeList("--sizes", sizes, sizeof(float),
                                                  uint64_t{std::numeric_limits<int>::max()}));
  }
  ASSIGN_OR_RETURN(options.impls, ParseNameList("--impls", impls));
  ASSIGN_OR_RETURN(options.timing.min_iters, IntAtLeast("--min-iters", min_iters, 1));
  if (options.dir.empty() || options.launch_name.empty() || options.sizes.empty() ||
      options.impls.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(subcommand,
                     " needs --dir, --launch, --sizes and --impls (it is started by "
                     "`cosched-bench allreduce`, not by hand)"));
  }
  if (options.advertise_address.empty()) {
    return absl::InvalidArgumentError("--advertise-address: must not be empty");
  }
  if (options.rank >= options.ranks) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rank: ", options.rank, " is not below --ranks ", options.ranks));
  }
  return options;
}

}  // namespace cosched::bench
