// File: bench/allreduce_rank.h
// The rank side of `cosched-bench allreduce`: processes the launcher starts (never run by
// hand). Each times its implementations at every size (bench/timing.h) and writes its
// samples to a file for the launcher (bench/samples.h).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "bench/rank_options.h"

namespace cosched::bench {

inline constexpr char kGlooRankCommand[] = "allreduce-gloo-rank";
inline constexpr char kMpiRankCommand[] = "allreduce-mpi-rank";

// One rank of the gloo launch: connects a CollectiveGroup (for the cosched* implementations
// and for the timing barriers) and a separate raw gloo context (for gloo-*) through a file
// store in options.dir, then runs every size, and at each size every implementation in an
// order rotated by options.round.
absl::Status RunGlooRank(const RankOptions& options);

// One rank of an `mpirun` launch: times MPI_Allreduce (the transport is whatever mpirun's
// --mca flags chose). `args` are the subcommand's flags; argc/argv go to MPI_Init.
absl::Status RunMpiRank(const std::vector<std::string>& args, int* argc, char*** argv);

}  // namespace cosched::bench
