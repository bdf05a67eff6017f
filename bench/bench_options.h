// File: bench/bench_options.h
// The flags of `cosched-bench allreduce` (the user-facing subcommand).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/timing.h"
#include "common/flags.h"

namespace cosched::bench {

struct BenchOptions {
  int ranks = 2;
  // 1: every rank on this machine, over loopback. N >= 2: N emulated hosts (network
  // namespaces, bench/bench_hosts.h), ranks placed on them in blocks; needs root.
  int hosts = 1;
  double link_mbit = 0;  // with hosts >= 2: every host's link shaped to this; 0 = unshaped
  std::vector<uint64_t> sizes = {4 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20};
  int reps = 7;
  bool json = false;
  std::vector<std::string> impls;  // empty: every implementation available
  TimingOptions timing;
  absl::Duration launch_timeout = absl::Minutes(5);  // one launch of ranks or one mpirun
  absl::Duration op_timeout = absl::Seconds(60);     // rendezvous and each collective
};

// The flags as FlagParser reads them: the constructor declares them on `parser`, with
// BenchOptions' defaults; once the parser has read the command line, Options() checks the
// values (InvalidArgument naming the flag for anything malformed). The parser writes into
// this object, so it must outlive the parsing and stays where it is.
class AllreduceFlags {
 public:
  explicit AllreduceFlags(FlagParser& parser);
  AllreduceFlags(const AllreduceFlags&) = delete;
  AllreduceFlags& operator=(const AllreduceFlags&) = delete;

  absl::StatusOr<BenchOptions> Options() const;

 private:
  int64_t ranks_;
  int64_t hosts_;
  std::string link_mbit_;  // a number; FlagParser has no floating-point flags
  std::string sizes_;      // "4KiB,64KiB"
  int64_t reps_;
  std::string output_;  // "json" or "table"
  std::string impls_;   // "" for all
  absl::Duration min_time_;
  int64_t min_iters_;
  absl::Duration launch_timeout_;
  absl::Duration op_timeout_;
};

// For `cosched-bench help`: the subcommand and its flags, then the implementations (which
// `cosched-bench allreduce --help` prints too).
extern const char kAllreduceUsage[];
extern const char kAllreduceImplsUsage[];

}  // namespace cosched::bench
