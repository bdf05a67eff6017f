// File: bench/rank_options.h
// The flags of the hidden rank subcommands (`allreduce-gloo-rank`, `allreduce-mpi-rank`).
// The launcher builds a RankOptions, turns it into argv with ToRankArgs, and the rank
// process parses it back with ParseRankOptions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "bench/timing.h"

namespace cosched::bench {

struct RankOptions {
  int rank = 0;             // gloo ranks only; an MPI rank learns its rank from MPI
  int ranks = 1;            // world size
  std::string dir;          // sample files (and, for gloo ranks, the rendezvous store)
  std::string launch_name;  // names this launch's sample files and rendezvous keys
  int round = 0;            // rotates the order in which implementations run
  std::vector<uint64_t> sizes;
  std::vector<std::string> impls;
  TimingOptions timing;
  absl::Duration op_timeout = absl::Seconds(60);  // rendezvous and each collective
  // gloo ranks only: the address this rank listens on and advertises to its peers (its
  // emulated host's with --hosts, else loopback), for the CollectiveGroup and raw gloo alike.
  std::string advertise_address = "127.0.0.1";
};

std::vector<std::string> ToRankArgs(const RankOptions& options);
absl::StatusOr<RankOptions> ParseRankOptions(const std::vector<std::string>& args,
                                             absl::string_view subcommand);

}  // namespace cosched::bench
