// File: bench/main.cc
// cosched-bench: benchmark drivers. Dispatches on the subcommand:
//   allreduce             the user-facing allreduce comparison (bench/allreduce_bench.h)
//   allreduce-gloo-rank   hidden: one gloo rank, started by `allreduce`
//   allreduce-mpi-rank    hidden: one MPI rank, started by `allreduce` through mpirun
//   inference             inference with deadlines during training (bench/inference_bench.h)
//   edge                  one job three ways on emulated hosts: the edge tier (bench/edge_bench.h)
//   scheduler             core decisions and gRPC heartbeat rate (bench/scheduler_bench.h)
// Exit status: 0 success, 1 the benchmark failed, 2 bad command line.
#include <unistd.h>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/allreduce_bench.h"
#include "bench/allreduce_rank.h"
#include "bench/allreduce_report.h"
#include "bench/bench_options.h"
#include "bench/edge_bench.h"
#include "bench/flags.h"
#include "bench/inference_bench.h"
#include "bench/scheduler_bench.h"
#include "common/logging.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void PrintUsage(std::ostream& out) {
  out << "usage: cosched-bench <subcommand> [flags]\n"
      << "subcommands:\n"
      << cosched::bench::kAllreduceUsage << cosched::bench::kAllreduceImplsUsage
      << cosched::bench::kInferenceUsage << cosched::bench::kSchedulerUsage
      << cosched::bench::kEdgeUsage << "  help                this text\n";
}

int UsageError(const absl::Status& status) {
  // FlagParser's errors name the program already ("cosched-bench allreduce-gloo-rank: ...").
  const bool named = absl::StartsWith(status.message(), "cosched-bench");
  std::cerr << (named ? "" : "cosched-bench: ") << status.message() << "\n"
            << "run 'cosched-bench help' for usage\n";
  return kExitUsage;
}

int Failure(const absl::Status& status) {
  spdlog::error("{}", std::string(status.message()));
  return kExitFailure;
}

int RunAllreduce(const std::vector<std::string>& args) {
  cosched::bench::SubcommandFlags flags("allreduce");
  cosched::bench::AllreduceFlags allreduce_flags(flags.parser());  // the parser writes into it
  if (std::optional<int> exit_code =
          flags.ParseOrExitCode(args, cosched::bench::kAllreduceImplsUsage)) {
    return *exit_code;
  }
  absl::StatusOr<cosched::bench::BenchOptions> options = allreduce_flags.Options();
  if (!options.ok()) return flags.ValueError(options.status());
  absl::StatusOr<std::vector<cosched::bench::Result>> results =
      cosched::bench::RunAllreduceBench(*options);
  if (!results.ok()) return Failure(results.status());
  if (options->json) {
    cosched::bench::PrintJsonLines(*results, *options, std::cout);
  } else {
    cosched::bench::PrintTable(*results, *options, std::cout);
  }
  std::cout.flush();
  return std::cout ? 0 : kExitFailure;
}

int RunGlooRank(const std::vector<std::string>& args) {
  absl::StatusOr<cosched::bench::RankOptions> options =
      cosched::bench::ParseRankOptions(args, cosched::bench::kGlooRankCommand);
  if (!options.ok()) return UsageError(options.status());
  cosched::InitLogging("warn", absl::StrCat("gloo-rank", options->rank)).IgnoreError();
  absl::Status status = cosched::bench::RunGlooRank(*options);
  return status.ok() ? 0 : Failure(status);
}

int RunMpiRank(const std::vector<std::string>& args, int* argc, char*** argv) {
  cosched::InitLogging("warn", absl::StrCat("mpi-rank-pid", ::getpid())).IgnoreError();
  absl::Status status = cosched::bench::RunMpiRank(args, argc, argv);
  if (absl::IsInvalidArgument(status)) return UsageError(status);
  return status.ok() ? 0 : Failure(status);
}

}  // namespace

int main(int argc, char** argv) {
  cosched::InitLogging("info", "cosched-bench").IgnoreError();
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty()) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  const std::string& command = all.front();
  const std::vector<std::string> args(all.begin() + 1, all.end());
  if (command == "help" || command == "-h" || command == "--help") {
    PrintUsage(std::cout);
    return 0;
  }
  if (command == "allreduce") return RunAllreduce(args);
  if (command == "inference") return cosched::bench::RunInferenceBenchCommand(args);
  if (command == "scheduler") return cosched::bench::RunSchedulerBenchCommand(args);
  if (command == "edge") return cosched::bench::RunEdgeBenchCommand(args);
  if (command == cosched::bench::kGlooRankCommand) return RunGlooRank(args);
  if (command == cosched::bench::kMpiRankCommand) return RunMpiRank(args, &argc, &argv);
  return UsageError(absl::InvalidArgumentError(absl::StrCat(
      "unknown subcommand '", command, "' (known: allreduce, inference, scheduler, edge, help)")));
}
