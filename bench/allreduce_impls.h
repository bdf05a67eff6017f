// File: bench/allreduce_impls.h
// The allreduce implementations `cosched-bench allreduce` compares, and how each is run:
//   cosched             CollectiveGroup::Allreduce with the automatic algorithm choice
//   cosched-<algo>      CollectiveGroup::Allreduce with that algorithm forced
//   gloo-<algo>         raw gloo, called directly (not through CollectiveGroup)
//   mpi-shm, mpi-tcp    Open MPI's MPI_Allreduce over shared memory (vader) or loopback TCP
//   mpi-shm+tcp         with --hosts >= 2, in place of mpi-shm: vader inside a host, TCP
//                       between hosts (mpi-tcp is then TCP throughout, over the hosts' links)
// where <algo> is ring, ring-chunked, halving-doubling, bcube, allreduce-ring, allreduce-bcube.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "collectives/algorithm.h"

namespace cosched::bench {

// Which group of processes runs an implementation. All kGlooRanks implementations share
// one launch of rank processes per round; each MPI transport is one `mpirun` per round.
enum class Launch { kGlooRanks, kMpiShm, kMpiTcp };

struct Impl {
  std::string name;
  Launch launch;
  bool raw_gloo = false;  // a gloo-* reference (else cosched or MPI)
  // kAuto for "cosched" and the MPI entries.
  collectives::AllreduceAlgorithm algorithm = collectives::AllreduceAlgorithm::kAuto;
};

// Every implementation that can run on `ranks` ranks over `hosts` hosts, in report order.
// gloo's classic bcube needs a power-of-two world size, so gloo-bcube and cosched-bcube drop
// out otherwise. Only the name of Open MPI's shared-memory entry depends on `hosts`: across
// hosts it cannot be shared memory alone, and the report should not say it is.
std::vector<Impl> AvailableImpls(int ranks, int hosts = 1);

// The implementations named in `names` (all available ones when `names` is empty), in
// report order. InvalidArgument naming --impls for an unknown or unavailable name.
absl::StatusOr<std::vector<Impl>> SelectImpls(const std::vector<std::string>& names, int ranks,
                                              int hosts = 1);

// The implementation called `name`, or NotFound.
absl::StatusOr<Impl> FindImpl(const std::string& name, int ranks, int hosts = 1);

}  // namespace cosched::bench
