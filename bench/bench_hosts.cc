// File: bench/bench_hosts.cc
#include "bench/bench_hosts.h"

#include <unistd.h>

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace cosched::bench {
namespace {

// Sets `--mca name value` in an mpirun command line: replaces the value when the option is
// there already (Open MPI does not say which of two settings of one parameter wins), else
// appends it.
void SetMca(std::vector<std::string>& argv, const std::string& name, const std::string& value) {
  for (size_t i = 0; i + 2 < argv.size(); ++i) {
    if (argv[i] == "--mca" && argv[i + 1] == name) {
      argv[i + 2] = value;
      return;
    }
  }
  argv.insert(argv.end(), {"--mca", name, value});
}

}  // namespace

int HostOfRank(int rank, int ranks, int hosts) {
  COSCHED_CHECK(hosts >= 1 && hosts <= ranks && rank >= 0 && rank < ranks,
                "HostOfRank({}, {}, {}): needs 1 <= hosts <= ranks and 0 <= rank < ranks", rank,
                ranks, hosts);
  return static_cast<int>(static_cast<int64_t>(rank) * hosts / ranks);
}

std::string DescribePlacement(int ranks, int hosts, double link_mbit) {
  if (hosts <= 1) return "this machine (loopback)";
  const int fewest = ranks / hosts;
  const std::string per_host =
      ranks % hosts == 0 ? absl::StrCat(fewest) : absl::StrCat(fewest, "-", fewest + 1);
  const std::string shaping =
      link_mbit > 0 ? absl::StrCat("links shaped to ", link_mbit, " Mbit/s") : "unshaped links";
  return absl::StrCat(hosts, " emulated hosts (", per_host, per_host == "1" ? " rank" : " ranks",
                      " each), ", shaping);
}

absl::StatusOr<std::unique_ptr<BenchHosts>> BenchHosts::Create(int hosts, int ranks,
                                                               double link_mbit,
                                                               const std::string& rsh_agent) {
  // TestHostsUnavailableReason words it for tests; a bench user needs their own way out.
  if (!testing::TestHostsUnavailableReason().empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--hosts ", hosts,
        " needs root: each emulated host is a network namespace with its own cgroup (and tc "
        "qdiscs for --link-mbit); run cosched-bench as root, or leave --hosts out to run every "
        "rank on this machine"));
  }
  if (::access(rsh_agent.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("--hosts ", hosts, ": mpirun's agent into the emulated hosts, ", rsh_agent,
                     ", is missing or not executable (cosched-bench runs from its build tree)"));
  }
  std::vector<testing::HostSpec> specs;
  for (int i = 0; i < hosts; ++i) {
    specs.push_back({.name = absl::StrCat("h", i), .link_mbit = link_mbit});
  }
  absl::StatusOr<std::unique_ptr<testing::TestHosts>> created =
      testing::TestHosts::Create(std::move(specs));
  if (!created.ok()) {
    return absl::Status(created.status().code(),
                        absl::StrCat("--hosts ", hosts, ": ", created.status().message()));
  }
  return std::unique_ptr<BenchHosts>(new BenchHosts(*std::move(created), ranks, rsh_agent));
}

const std::string& BenchHosts::RankAddress(int rank) const {
  return hosts_->address(HostOfRank(rank, ranks_, hosts()));
}

std::vector<std::string> BenchHosts::WrapRank(int rank,
                                              const std::vector<std::string>& argv) const {
  return hosts_->Wrap(HostOfRank(rank, ranks_, hosts()), argv);
}

std::vector<std::string> BenchHosts::MpirunArgv(const std::string& mpirun, Launch kind) const {
  // One --host entry per rank: a host named k times has k slots, filled in order, so rank r
  // lands on the host HostOfRank gives it.
  std::vector<std::string> ranks_on;
  for (int rank = 0; rank < ranks_; ++rank) {
    ranks_on.push_back(hosts_->name(HostOfRank(rank, ranks_, hosts())));
  }
  std::vector<std::string> argv = hosts_->MpirunArgv(ranks_on, rsh_agent_);
  argv.front() = mpirun;
  // Across hosts "shared memory" can only mean vader inside each host plus TCP between them.
  SetMca(argv, "btl", kind == Launch::kMpiShm ? "self,vader,tcp" : "self,tcp");
  // Every emulated host shows Open MPI all of this machine's cores, so with more ranks than
  // cores it would not know that it oversubscribes them and would spin while waiting, taking
  // the CPU from the peers and from the kernel's forwarding over the bridge. On one machine
  // (--oversubscribe, slots = cores) Open MPI sees it and yields by itself: say so here too.
  if (static_cast<unsigned>(ranks_) > std::thread::hardware_concurrency()) {
    SetMca(argv, "mpi_yield_when_idle", "1");
  }
  return hosts_->Wrap(0, argv);
}

}  // namespace cosched::bench
