// File: bench/allreduce_report.h
// Printing `cosched-bench allreduce` results: JSON lines (one object per implementation and
// size) or an aligned table under a caption that says where the ranks ran, plus how cosched
// (auto) compares with the best raw gloo.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "bench/allreduce_bench.h"

namespace cosched::bench {

// cosched (auto) against the fastest gloo-* implementation at one size.
struct Comparison {
  uint64_t size_bytes = 0;
  std::string auto_algorithm;  // what cosched's automatic allreduce does at this size
  std::string best_raw_gloo;
  // best raw gloo median time / cosched median time: cosched's share of the best raw
  // throughput (1.0 = as fast, 0.95 = 5% slower).
  double ratio = 0;
};

// One Comparison per size at which both cosched and some gloo-* were run, with `ranks` ranks
// over `hosts` hosts.
std::vector<Comparison> CompareWithRawGloo(const std::vector<Result>& results, int ranks,
                                           int hosts);

// Bandwidths as nccl-tests defines them: algbw = bytes / time, busbw = algbw * 2(n-1)/n.
double AlgBandwidthGbps(uint64_t bytes, double seconds);
double BusBandwidthGbps(uint64_t bytes, double seconds, int ranks);

// `options` says what was run: ranks, hosts, links.
void PrintJsonLines(const std::vector<Result>& results, const BenchOptions& options,
                    std::ostream& out);
void PrintTable(const std::vector<Result>& results, const BenchOptions& options, std::ostream& out);

}  // namespace cosched::bench
