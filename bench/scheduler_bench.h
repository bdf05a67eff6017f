// File: bench/scheduler_bench.h
// `cosched-bench scheduler`: in one invocation, the scheduler core's placement decisions
// (10,000 nodes, 1,000 jobs, churn; no network) against a plain full-scan placer, and the
// heartbeats the real gRPC worker-session service absorbs from many sessions against a
// trivial echo service; interleaved repetitions, medians (see docs/benchmarks.md).
#pragma once

#include <string>
#include <vector>

namespace cosched::bench {

inline constexpr char kSchedulerUsage[] =
    "  scheduler [--nodes 10000] [--jobs 1000] [--departures 100] [--sessions 64]\n"
    "            [--duration 3s] [--reps 5] [--seed 1] [--part all|decisions|heartbeats]\n"
    "            [-o json]\n"
    "                      core placement decisions vs a full-scan placer; gRPC heartbeat\n"
    "                      rate vs an echo service\n";

// Runs the benchmark with the arguments after the subcommand; returns the exit code.
int RunSchedulerBenchCommand(const std::vector<std::string>& args);

}  // namespace cosched::bench
