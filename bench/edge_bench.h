// File: bench/edge_bench.h
// `cosched-bench edge`: the Fashion-MNIST MLP trained three ways on emulated hosts
// (bench/edge_fleet.h), data-center hosts and vehicle hosts each under a CPU quota, the
// vehicles behind shaped links:
//   datacenter   the data-center hosts only, one synchronous allreduce
//   synchronous  every host in one synchronous allreduce (vehicles too, over their links)
//   edge         the edge tier: data-center hosts synchronous, each vehicle a replica of its
//                own in outer rounds with int8 compression
// Reported per way: wall time until the job's test accuracy first reaches the target (the job
// evaluates once per epoch), final accuracy, bytes over the vehicles' links per 1,000 samples
// trained (their interfaces' counters) and vehicle utilisation (CPU the vehicles' hosts used
// over the CPU their quotas allowed, during the run). Repetitions interleave the ways; the
// report gives medians. Needs root (network namespaces, cgroups).
#pragma once

#include <string>
#include <vector>

namespace cosched::bench {

inline constexpr char kEdgeUsage[] =
    "  edge [--datacenter 2] [--vehicles 4] [--datacenter-cpu 0.5] [--vehicle-cpu 0.2]\n"
    "       [--link-mbit 20] [--epochs 6] [--local-steps 200] [--outer-lr 0.7]\n"
    "       [--outer-momentum 0.9] [--compression auto] [--vehicle-batch 16]\n"
    "       [--target 0.88]\n"
    "       [--max-seconds 300] [--reps 1] [--ways datacenter,synchronous,edge]\n"
    "       [--scheduler-config configs/scheduler.yaml] [-o json]\n"
    "                      one job three ways on emulated hosts: data center only, all in one\n"
    "                      synchronous allreduce, and the edge tier\n";

// Runs the benchmark with the arguments after the subcommand; returns the exit code.
int RunEdgeBenchCommand(const std::vector<std::string>& args);

}  // namespace cosched::bench
