// File: bench/inference_bench.h
// `cosched-bench inference`: deadline-bound inference against a training job, and the same
// training without inference, in one invocation (see docs/benchmarks.md).
#pragma once

#include <string>
#include <vector>

namespace cosched::bench {

inline constexpr char kInferenceUsage[] =
    "  inference [--ranks 2] [--steps 1000] [--reps 3] [--deadline 20ms] [--rate R|auto]\n"
    "            [--trace CSV] [--trace-speedup X] [--job YAML] [-o json]\n"
    "                      inference with deadlines during 2-rank training vs training alone\n";

// Runs the benchmark with the arguments after the subcommand; returns the exit code.
int RunInferenceBenchCommand(const std::vector<std::string>& args);

}  // namespace cosched::bench
