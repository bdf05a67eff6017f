// File: bench/bench_options.cc
#include "bench/bench_options.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "bench/allreduce_impls.h"
#include "bench/flags.h"
#include "common/status_macros.h"

namespace cosched::bench {

const char kAllreduceUsage[] =
    "  allreduce [flags]   time allreduce: cosched vs raw gloo vs Open MPI, interleaved\n"
    "    --ranks N          ranks, as processes on this machine (default 2)\n"
    "    --sizes LIST       message sizes (default 4KiB,64KiB,1MiB,16MiB,64MiB)\n"
    "    --reps N           interleaved rounds; each gives one sample per impl and size "
    "(default 7)\n"
    "    -o json|table      JSON lines or a table on stdout (default table)\n"
    "    --impls LIST       only these implementations (default all; see below)\n"
    "    --min-time D       time per sample at least this long (default 50ms)\n"
    "    --min-iters N      and at least this many iterations (default 3)\n"
    "    --timeout D        limit for one launch of ranks or one mpirun (default 5m)\n"
    "    --op-timeout D     limit for rendezvous and each collective (default 60s)\n"
    "  implementations: cosched, cosched-<algo>, gloo-<algo>, mpi-shm, mpi-tcp, where <algo>\n"
    "  is ring, ring-chunked, halving-doubling, bcube, allreduce-ring or allreduce-bcube\n";

absl::StatusOr<BenchOptions> ParseBenchOptions(const std::vector<std::string>& args) {
  ASSIGN_OR_RETURN(const std::vector<Flag> flags, SplitFlags(args));
  BenchOptions options;
  for (const Flag& flag : flags) {
    if (flag.name == "--ranks") {
      ASSIGN_OR_RETURN(options.ranks, ParseIntFlag(flag, 1));
    } else if (flag.name == "--sizes") {
      ASSIGN_OR_RETURN(options.sizes, ParseSizeListFlag(flag, sizeof(float),
                                                        uint64_t{std::numeric_limits<int>::max()}));
    } else if (flag.name == "--reps") {
      ASSIGN_OR_RETURN(options.reps, ParseIntFlag(flag, 1));
    } else if (flag.name == "-o" || flag.name == "--output") {
      if (flag.value != "json" && flag.value != "table") {
        return absl::InvalidArgumentError(
            absl::StrCat(flag.name, ": '", flag.value, "' is not 'json' or 'table'"));
      }
      options.json = flag.value == "json";
    } else if (flag.name == "--impls") {
      ASSIGN_OR_RETURN(options.impls, ParseListFlag(flag));
    } else if (flag.name == "--min-time") {
      ASSIGN_OR_RETURN(options.timing.min_time, ParseDurationFlag(flag));
    } else if (flag.name == "--min-iters") {
      ASSIGN_OR_RETURN(options.timing.min_iters, ParseIntFlag(flag, 1));
    } else if (flag.name == "--timeout") {
      ASSIGN_OR_RETURN(options.launch_timeout, ParseDurationFlag(flag));
    } else if (flag.name == "--op-timeout") {
      ASSIGN_OR_RETURN(options.op_timeout, ParseDurationFlag(flag));
    } else {
      return UnknownFlagError(flag, "allreduce");
    }
  }
  std::sort(options.sizes.begin(), options.sizes.end());
  options.sizes.erase(std::unique(options.sizes.begin(), options.sizes.end()), options.sizes.end());
  // Names are checked now, so that a typo fails before any process starts.
  RETURN_IF_ERROR(SelectImpls(options.impls, options.ranks).status());
  if (options.launch_timeout <= absl::ZeroDuration() ||
      options.op_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeout and --op-timeout must be positive");
  }
  return options;
}

}  // namespace cosched::bench
