// File: bench/bench_options.cc
#include "bench/bench_options.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/allreduce_impls.h"
#include "bench/flags.h"
#include "common/status_macros.h"
#include "common/units.h"

namespace cosched::bench {

const char kAllreduceUsage[] =
    "  allreduce [flags]   time allreduce: cosched vs raw gloo vs Open MPI, interleaved\n"
    "    --ranks N          ranks, as processes on this machine (default 2)\n"
    "    --hosts N          spread the ranks over N emulated hosts (network namespaces on a\n"
    "                       bridge; needs root), in blocks: rank r on host r*N/ranks. 1 =\n"
    "                       every rank on this machine over loopback (default 1)\n"
    "    --link-mbit X      with --hosts >= 2: shape every host's link to X Mbit/s each way\n"
    "                       (default 0 = unshaped)\n"
    "    --sizes LIST       message sizes (default 4KiB,64KiB,1MiB,16MiB,64MiB)\n"
    "    --reps N           interleaved rounds; each gives one sample per impl and size "
    "(default 7)\n"
    "    -o json|table      JSON lines or a table on stdout (default table)\n"
    "    --impls LIST       only these implementations (default all; see below)\n"
    "    --min-time D       time per sample at least this long (default 50ms)\n"
    "    --min-iters N      and at least this many iterations (default 3)\n"
    "    --timeout D        limit for one launch of ranks or one mpirun (default 5m)\n"
    "    --op-timeout D     limit for rendezvous and each collective (default 60s)\n";
const char kAllreduceImplsUsage[] =
    "  implementations: cosched, cosched-<algo>, gloo-<algo>, mpi-shm, mpi-tcp, where <algo>\n"
    "  is ring, ring-chunked, halving-doubling, bcube, allreduce-ring or allreduce-bcube\n"
    "  (cosched-<algo> also takes cosched's own for 2 ranks, exchange and direct);\n"
    "  with --hosts >= 2, mpi-shm+tcp (shared memory inside a host, TCP between hosts)\n"
    "  replaces mpi-shm\n";

AllreduceFlags::AllreduceFlags(FlagParser& parser) {
  const BenchOptions defaults;
  ranks_ = defaults.ranks;
  hosts_ = defaults.hosts;
  link_mbit_ = absl::StrCat(defaults.link_mbit);
  sizes_ = absl::StrJoin(defaults.sizes, ",", [](std::string* out, uint64_t size) {
    absl::StrAppend(out, FormatByteSize(size));
  });
  reps_ = defaults.reps;
  output_ = defaults.json ? "json" : "table";
  impls_ = absl::StrJoin(defaults.impls, ",");
  min_time_ = defaults.timing.min_time;
  min_iters_ = defaults.timing.min_iters;
  launch_timeout_ = defaults.launch_timeout;
  op_timeout_ = defaults.op_timeout;

  parser.Int("ranks", &ranks_, "ranks, as processes on this machine");
  parser.Int("hosts", &hosts_,
             "emulated hosts the ranks are spread over in blocks (network namespaces; needs "
             "root); 1 = all on this machine");
  parser.String("link-mbit", &link_mbit_,
                "with --hosts >= 2: every host's link shaped to this many Mbit/s (0 = unshaped)");
  parser.String("sizes", &sizes_, "message sizes, comma-separated");
  parser.Int("reps", &reps_, "interleaved rounds; each gives one sample per impl and size");
  parser.String("output", &output_, "json (JSON lines) or table, on stdout");
  parser.Short('o', "output");
  parser.String("impls", &impls_, "only these implementations, comma-separated (empty: all)");
  parser.Duration("min-time", &min_time_, "time per sample at least this long");
  parser.Int("min-iters", &min_iters_, "and at least this many iterations");
  parser.Duration("timeout", &launch_timeout_, "limit for one launch of ranks or one mpirun");
  parser.Duration("op-timeout", &op_timeout_, "limit for rendezvous and each collective");
}

absl::StatusOr<BenchOptions> AllreduceFlags::Options() const {
  BenchOptions options;
  ASSIGN_OR_RETURN(options.ranks, IntAtLeast("--ranks", ranks_, 1));
  ASSIGN_OR_RETURN(options.hosts, IntAtLeast("--hosts", hosts_, 1));
  if (options.ranks < options.hosts) {
    return absl::InvalidArgumentError(absl::StrCat("--ranks ", options.ranks,
                                                   " is fewer than --hosts ", options.hosts,
                                                   ": every host needs at least one rank"));
  }
  ASSIGN_OR_RETURN(options.link_mbit, ParseLinkRate("--link-mbit", link_mbit_));
  if (options.link_mbit > 0 && options.hosts < 2) {
    return absl::InvalidArgumentError(
        "--link-mbit shapes the links between emulated hosts: it needs --hosts 2 or more");
  }
  // A message is a whole number of floats whose count fits the int the implementations take.
  ASSIGN_OR_RETURN(options.sizes, ParseSizeList("--sizes", sizes_, sizeof(float),
                                                uint64_t{std::numeric_limits<int>::max()}));
  ASSIGN_OR_RETURN(options.reps, IntAtLeast("--reps", reps_, 1));
  if (output_ != "json" && output_ != "table") {
    return absl::InvalidArgumentError(
        absl::StrCat("--output (-o): '", output_, "' is not 'json' or 'table'"));
  }
  options.json = output_ == "json";
  ASSIGN_OR_RETURN(options.impls, ParseNameList("--impls", impls_));
  options.timing.min_time = min_time_;
  ASSIGN_OR_RETURN(options.timing.min_iters, IntAtLeast("--min-iters", min_iters_, 1));
  options.launch_timeout = launch_timeout_;
  options.op_timeout = op_timeout_;

  std::sort(options.sizes.begin(), options.sizes.end());
  options.sizes.erase(std::unique(options.sizes.begin(), options.sizes.end()), options.sizes.end());
  // Names are checked now, so that a typo fails before any process starts.
  RETURN_IF_ERROR(SelectImpls(options.impls, options.ranks, options.hosts).status());
  if (options.launch_timeout <= absl::ZeroDuration() ||
      options.op_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--timeout and --op-timeout must be positive");
  }
  return options;
}

}  // namespace cosched::bench
