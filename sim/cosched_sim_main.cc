// File: sim/cosched_sim_main.cc
// cosched-sim: the deterministic simulation of cosched's control plane.
//
//   cosched-sim churn --seed 17 --trace        one run, its whole event trace
//   cosched-sim churn --seeds 2000             runs seeds 1..2000, progress on stderr
//   cosched-sim churn --seeds 500 --revert-churn-fix
//                                              the same with workers as before the churn fix
//
// A table for people, `-o json` for scripts. Exit code 0 when every seed held every invariant,
// 1 when one did not (each failing seed is listed with the command that replays it), 2 for a
// bad command line.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/flags.h"
#include "sim/control_plane/churn_scenario.h"

namespace {

using cosched::sim::ChurnResult;
using cosched::sim::SimConfig;

struct Options {
  int64_t seed = 1;
  int64_t seeds = 0;  // > 0: run seeds seed..seed+seeds-1
  bool revert_churn_fix = false;
  bool trace = false;
  std::string output = "table";
};

void PrintTable(const std::vector<ChurnResult>& results, const SimConfig& base,
                absl::Duration took) {
  int failed = 0;
  std::printf("%-8s %-10s %6s %8s %6s %7s %9s  %s\n", "SEED", "JOB", "GENS", "CHARGED", "FAULTS",
              "CHURN", "VIRTUAL", "RESULT");
  for (const ChurnResult& r : results) {
    if (!r.ok()) ++failed;
    if (results.size() > 20 && r.ok()) continue;  // many seeds: list the failing ones
    std::printf("%-8llu %-10s %6lld %8d %6d %7d %8.1fs  %s\n",
                static_cast<unsigned long long>(r.seed), r.job_state.c_str(),
                static_cast<long long>(r.generations), r.failures_charged, r.real_faults,
                r.churn_events, r.virtual_seconds, r.ok() ? "ok" : r.violations.front().c_str());
  }
  std::printf("\n%zu seeds, %d failed, %.1fs\n", results.size(), failed,
              absl::ToDoubleSeconds(took));
  for (const ChurnResult& r : results) {
    if (r.ok()) continue;
    SimConfig config = base;
    config.seed = r.seed;
    std::printf("replay: %s\n", cosched::sim::ReplayCommand(config).c_str());
  }
}

void PrintJson(const std::vector<ChurnResult>& results, const SimConfig& base) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const ChurnResult& r : results) {
    SimConfig config = base;
    config.seed = r.seed;
    out.push_back({{"seed", r.seed},
                   {"ok", r.ok()},
                   {"job_state", r.job_state},
                   {"generations", r.generations},
                   {"failures_charged", r.failures_charged},
                   {"real_faults", r.real_faults},
                   {"churn_events", r.churn_events},
                   {"virtual_seconds", r.virtual_seconds},
                   {"violations", r.violations},
                   {"replay", cosched::sim::ReplayCommand(config)}});
  }
  std::cout << out.dump(2) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  cosched::FlagParser flags("cosched-sim churn");
  flags.Int("seed", &options.seed, "the (first) seed");
  flags.Int("seeds", &options.seeds, "run this many seeds from --seed on (0: just --seed)");
  flags.Bool("revert-churn-fix", &options.revert_churn_fix,
             "workers wait out a superseded generation's rendezvous and count its timeout as "
             "their own failure, as before the churn fix");
  flags.Bool("trace", &options.trace, "print every event of the run (one seed)");
  flags.String("output", &options.output, "table or json");
  flags.Short('o', "output");
  if (std::optional<int> exit_code = flags.ParseOrExitCode(argc, argv)) return *exit_code;
  if (flags.positional() != std::vector<std::string>{"churn"}) {
    std::cerr << "cosched-sim: the scenario to run is `churn`\n" << flags.Usage();
    return 2;
  }
  if (options.output != "table" && options.output != "json") {
    std::cerr << "cosched-sim: --output must be table or json, not '" << options.output << "'\n";
    return 2;
  }
  if (options.seed < 0 || options.seeds < 0) {
    std::cerr << "cosched-sim: --seed and --seeds must not be negative\n";
    return 2;
  }

  SimConfig base;
  base.revert_churn_fix = options.revert_churn_fix;
  base.full_trace = options.trace;
  const int64_t count = options.seeds > 0 ? options.seeds : 1;
  std::vector<ChurnResult> results;
  const absl::Time start = absl::Now();
  for (int64_t i = 0; i < count; ++i) {
    SimConfig config = base;
    config.seed = static_cast<uint64_t>(options.seed + i);
    results.push_back(cosched::sim::RunChurnScenario(config));
    if (count > 1 && (i + 1) % 100 == 0) {
      std::fprintf(stderr, "%lld/%lld seeds\n", static_cast<long long>(i + 1),
                   static_cast<long long>(count));
    }
  }
  if (options.trace) {
    for (const ChurnResult& r : results) {
      for (const std::string& line : r.trace) std::fprintf(stderr, "%s\n", line.c_str());
    }
  }
  if (options.output == "json") {
    PrintJson(results, base);
  } else {
    PrintTable(results, base, absl::Now() - start);
  }
  for (const ChurnResult& r : results) {
    if (!r.ok()) return 1;
  }
  return 0;
}
