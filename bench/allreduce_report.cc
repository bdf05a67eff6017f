// File: bench/allreduce_report.cc
#include "bench/allreduce_report.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_hosts.h"
#include "collectives/algorithm.h"
#include "common/units.h"

namespace cosched::bench {
namespace {

const Comparison* FindComparison(const std::vector<Comparison>& comparisons, uint64_t size) {
  for (const Comparison& c : comparisons) {
    if (c.size_bytes == size) return &c;
  }
  return nullptr;
}

}  // namespace

double AlgBandwidthGbps(uint64_t bytes, double seconds) {
  return static_cast<double>(bytes) / seconds / 1e9;
}

double BusBandwidthGbps(uint64_t bytes, double seconds, int ranks) {
  return AlgBandwidthGbps(bytes, seconds) * 2.0 * (ranks - 1) / ranks;
}

std::vector<Comparison> CompareWithRawGloo(const std::vector<Result>& results, int ranks,
                                           int hosts) {
  const collectives::AlgorithmSelector selector;
  std::vector<Comparison> comparisons;
  for (const Result& cosched : results) {
    if (cosched.impl.name != "cosched") continue;
    const Result* best = nullptr;
    for (const Result& r : results) {
      if (r.size_bytes != cosched.size_bytes || !r.impl.raw_gloo) continue;
      if (best == nullptr || r.seconds.median < best->seconds.median) best = &r;
    }
    if (best == nullptr) continue;
    // Where the ranks run decides cosched's path (GlooGroup::path()): all on one host, the
    // shared-memory segment (the rule shown is what it would use across hosts); one rank per
    // host, the rule's algorithm among all ranks; several hosts holding several ranks,
    // hierarchical, with the rule's algorithm only among one leader per host, so it is chosen
    // for `hosts` participants.
    std::string auto_choice;
    if (hosts <= 1) {
      auto_choice =
          absl::StrCat("shared-memory (across hosts: ",
                       collectives::AlgorithmName(selector.Choose(cosched.size_bytes, ranks)), ")");
    } else if (ranks > hosts) {
      auto_choice =
          absl::StrCat("hierarchical (leaders: ",
                       collectives::AlgorithmName(selector.Choose(cosched.size_bytes, hosts)), ")");
    } else {
      auto_choice = absl::StrCat(
          "all ranks: ", collectives::AlgorithmName(selector.Choose(cosched.size_bytes, ranks)));
    }
    comparisons.push_back({cosched.size_bytes, auto_choice, best->impl.name,
                           best->seconds.median / cosched.seconds.median});
  }
  return comparisons;
}

void PrintJsonLines(const std::vector<Result>& results, const BenchOptions& options,
                    std::ostream& out) {
  const int ranks = options.ranks;
  const std::vector<Comparison> comparisons = CompareWithRawGloo(results, ranks, options.hosts);
  for (const Result& r : results) {
    const double median = r.seconds.median;
    out << absl::StrFormat(
        "{\"impl\":\"%s\",\"ranks\":%d,\"hosts\":%d,\"size_bytes\":%d,\"reps\":%d,"
        "\"median_seconds\":%.9g,\"p10_seconds\":%.9g,\"p90_seconds\":%.9g,\"algbw_gbps\":%.6g,"
        "\"busbw_gbps\":%.6g",
        r.impl.name, ranks, options.hosts, r.size_bytes, r.reps, median, r.seconds.p10,
        r.seconds.p90, AlgBandwidthGbps(r.size_bytes, median),
        BusBandwidthGbps(r.size_bytes, median, ranks));
    // Only when shaped, so that runs without --link-mbit print what they always did.
    if (options.link_mbit > 0) out << absl::StrFormat(",\"link_mbit\":%.6g", options.link_mbit);
    const Comparison* c = FindComparison(comparisons, r.size_bytes);
    if (r.impl.name == "cosched" && c != nullptr) {
      out << absl::StrFormat(
          ",\"algorithm\":\"%s\",\"best_raw_gloo\":\"%s\",\"ratio_vs_best_raw_gloo\":%.4f",
          c->auto_algorithm, c->best_raw_gloo, c->ratio);
    }
    out << "}\n";
  }
}

void PrintTable(const std::vector<Result>& results, const BenchOptions& options,
                std::ostream& out) {
  const int ranks = options.ranks;
  out << "allreduce, " << ranks << " ranks on "
      << DescribePlacement(ranks, options.hosts, options.link_mbit) << "\n\n";
  size_t name_width = 4;
  for (const Result& r : results) name_width = std::max(name_width, r.impl.name.size());
  const int w = static_cast<int>(name_width);
  out << absl::StrFormat("%-*s %8s %12s %12s %12s %10s %10s\n", w, "impl", "size", "median_us",
                         "p10_us", "p90_us", "algbw_GB/s", "busbw_GB/s");
  uint64_t previous_size = 0;
  for (const Result& r : results) {
    if (previous_size != 0 && r.size_bytes != previous_size) out << "\n";
    previous_size = r.size_bytes;
    const double median = r.seconds.median;
    out << absl::StrFormat("%-*s %8s %12.1f %12.1f %12.1f %10.3f %10.3f\n", w, r.impl.name,
                           FormatByteSize(r.size_bytes), median * 1e6, r.seconds.p10 * 1e6,
                           r.seconds.p90 * 1e6, AlgBandwidthGbps(r.size_bytes, median),
                           BusBandwidthGbps(r.size_bytes, median, ranks));
  }
  const std::vector<Comparison> comparisons = CompareWithRawGloo(results, ranks, options.hosts);
  if (comparisons.empty()) return;
  out << "\ncosched (auto) vs the best raw gloo algorithm, as best median / cosched median "
         "(1.00 = as fast):\n";
  out << absl::StrFormat("%8s  %-50s %-24s %6s\n", "size", "auto picks", "best raw gloo", "ratio");
  for (const Comparison& c : comparisons) {
    out << absl::StrFormat("%8s  %-50s %-24s %6.3f\n", FormatByteSize(c.size_bytes),
                           c.auto_algorithm, c.best_raw_gloo, c.ratio);
  }
}

}  // namespace cosched::bench
