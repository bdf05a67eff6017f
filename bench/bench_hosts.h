// File: bench/bench_hosts.h
// The emulated hosts of `cosched-bench allreduce --hosts N` (N >= 2): one network namespace
// per host, all on one bridge (tests/support/test_hosts.h), with the ranks placed on them in
// blocks, and the command lines that start a gloo rank, or mpirun, inside its host. The hosts
// live as long as this object: its destructor kills whatever still runs in them and removes
// them, so one instance serves every round of a run.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/allreduce_impls.h"
#include "tests/support/test_hosts.h"

namespace cosched::bench {

// The host of rank `rank` out of `ranks` spread over `hosts`: rank * hosts / ranks. Blocks
// of consecutive ranks, as mpirun fills one host's slots before the next, so the gloo and
// MPI launches put the same ranks together. Needs 1 <= hosts <= ranks and 0 <= rank < ranks.
int HostOfRank(int rank, int ranks, int hosts);

// Where `ranks` ranks run, for the log and the table's caption: "this machine (loopback)" or
// "2 emulated hosts (2 ranks each), unshaped links".
std::string DescribePlacement(int ranks, int hosts, double link_mbit);

class BenchHosts {
 public:
  // Creates `hosts` hosts named h0, h1, ..., each link shaped to `link_mbit` (0 = unshaped).
  // `rsh_agent` is scripts/netns-rsh, through which mpirun starts its daemons in the other
  // hosts. FailedPrecondition naming --hosts when emulated hosts cannot work here (not root)
  // or the agent is missing.
  static absl::StatusOr<std::unique_ptr<BenchHosts>> Create(int hosts, int ranks, double link_mbit,
                                                            const std::string& rsh_agent);

  int hosts() const { return hosts_->size(); }
  int ranks() const { return ranks_; }
  // The address `rank` listens on and advertises: its host's.
  const std::string& RankAddress(int rank) const;
  // `argv` wrapped so that it runs inside the host of `rank`.
  std::vector<std::string> WrapRank(int rank, const std::vector<std::string>& argv) const;
  // The start of an mpirun command line (`mpirun` is its path) that runs inside host 0 and
  // starts ranks() ranks placed like the gloo ranks, with the transport of `kind`: the TCP
  // BTL (mpi-tcp), or vader inside a host and TCP between hosts (mpi-shm+tcp); TCP only on
  // the hosts' subnet. Append the program and its arguments.
  std::vector<std::string> MpirunArgv(const std::string& mpirun, Launch kind) const;

 private:
  BenchHosts(std::unique_ptr<testing::TestHosts> hosts, int ranks, std::string rsh_agent)
      : hosts_(std::move(hosts)), ranks_(ranks), rsh_agent_(std::move(rsh_agent)) {}

  const std::unique_ptr<testing::TestHosts> hosts_;
  const int ranks_;
  const std::string rsh_agent_;
};

}  // namespace cosched::bench
