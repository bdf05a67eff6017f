// File: bench/inference_bench.cc
// Method: each repetition runs the same standalone job twice, once with inference traffic
// at every rank and once without, alternating which goes first; the training numbers are
// medians over repetitions, the inference numbers pool every request.
//
// What inference costs is measured as CPU time, not assumed: every worker reports its
// process's CPU time and its training thread's, so
//   worker inference CPU = (process - trainer) with inference - (process - trainer) without
// (the difference removes data loading, gloo and other fixed costs). The load generator runs
// on the same cores as the job, so its CPU time is taken from training as surely as the
// workers' inference is; the inference share counts both:
//   inference_share    = (worker inference CPU + load generator CPU) / (ranks x wall time)
//   training_retention = (samples/s with / samples/s without) / (1 - inference_share)
// "Half of one core's inference capacity" (the default rate) uses the same accounting: a
// probe pair of runs measures the worker CPU per request, and capacity = 1 / that.
#include "bench/inference_bench.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/flags.h"
#include "common/cpu_time.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "tools/inference_load.h"
#include "tools/standalone_job.h"

namespace cosched::bench {
namespace {

using nlohmann::json;
using tools::LoadOptions;
using tools::LoadReport;
using tools::Percentile;

struct InferenceBenchFlags {
  int64_t ranks = 2;
  int64_t steps = 1000;
  int64_t reps = 7;
  absl::Duration deadline = absl::Milliseconds(20);
  std::string rate = "auto";
  std::string trace;
  std::string trace_speedup = "1";
  std::string job = "configs/jobs/fashion-mlp.yaml";
  std::string bind = "core";
  std::string output;
};

struct RunResult {
  double samples_per_second = 0;
  double wall_seconds = 0;
  double worker_other_cpu_seconds = 0;  // sum over ranks of (process - trainer) CPU
  double load_cpu_seconds = 0;          // this process (the load generator) during the run
  double steps_cut_short = 0;           // sum over ranks of steps given up for inference
  double allreduce_share = 0;           // of the ranks' wall time, in step allreduces
  // Where training time goes: the trainer threads' CPU per sample and their CPU share of
  // the ranks' wall time (the rest they spent descheduled or blocked).
  double trainer_us_per_sample = 0;
  double trainer_cpu_share = 0;
  LoadReport load;  // empty without inference
};

absl::StatusOr<RunResult> RunOnce(const InferenceBenchFlags& flags, int64_t steps,
                                  const LoadOptions* load, int run_index) {
  tools::StandaloneJobOptions options;
  options.job_yaml = flags.job;
  options.ranks = static_cast<int>(flags.ranks);
  options.steps = steps;
  options.bind_to_core = flags.bind == "core";
  options.dir = (std::filesystem::temp_directory_path() /
                 absl::StrCat("cosched-bench-inference-", ::getpid(), "-", run_index))
                    .string();
  ASSIGN_OR_RETURN(auto job, tools::StandaloneJob::Start(options, absl::Now() + absl::Minutes(2)));
  const double cpu_before = ProcessCpuSeconds();
  std::atomic<bool> stop{false};
  absl::StatusOr<LoadReport> report = LoadReport();
  std::thread driver;
  if (load != nullptr) {
    LoadOptions with_targets = *load;
    with_targets.targets = job->inference_addresses();
    with_targets.stop = &stop;
    driver =
        std::thread([with_targets, &report] { report = tools::RunInferenceLoad(with_targets); });
  }
  absl::StatusOr<std::vector<json>> finished = job->AwaitFinished(absl::Now() + absl::Minutes(20));
  stop = true;
  if (driver.joinable()) driver.join();
  RETURN_IF_ERROR(finished.status());
  RETURN_IF_ERROR(report.status());
  RunResult result;
  result.load_cpu_seconds = load != nullptr ? ProcessCpuSeconds() - cpu_before : 0;
  result.samples_per_second = finished->front().value("samples_per_second", 0.0);
  result.wall_seconds = finished->front().value("wall_seconds", 0.0);
  double trainer_cpu = 0;
  for (const json& rank : *finished) {
    trainer_cpu += rank.value("trainer_cpu_seconds", 0.0);
    result.worker_other_cpu_seconds +=
        rank.value("process_cpu_seconds", 0.0) - rank.value("trainer_cpu_seconds", 0.0);
    result.steps_cut_short += rank.value("preempted_steps", 0.0);
    result.allreduce_share += rank.value("allreduce_seconds", 0.0) /
                              (result.wall_seconds * static_cast<double>(finished->size()));
  }
  const double ranks_wall = result.wall_seconds * static_cast<double>(finished->size());
  const double samples = result.samples_per_second * result.wall_seconds;
  result.trainer_us_per_sample = samples > 0 ? trainer_cpu * 1e6 / samples : 0;
  result.trainer_cpu_share = ranks_wall > 0 ? trainer_cpu / ranks_wall : 0;
  result.load = *std::move(report);
  return result;
}

double Median(std::vector<double> values) { return Percentile(std::move(values), 50); }

// The median of one field over runs.
double MedianOf(const std::vector<RunResult>& runs, double RunResult::*field) {
  std::vector<double> values;
  for (const RunResult& run : runs) values.push_back(run.*field);
  return Median(std::move(values));
}

// Worker CPU seconds per request, from a run with inference and one without.
absl::StatusOr<double> ProbeCpuPerRequest(const InferenceBenchFlags& flags, LoadOptions probe) {
  constexpr int64_t kProbeSteps = 400;
  probe.arrivals.clear();
  probe.rate_per_second = 1000;
  spdlog::info("probing the workers' CPU per request ({} steps at {} req/s, then without)",
               kProbeSteps, probe.rate_per_second);
  ASSIGN_OR_RETURN(const RunResult with, RunOnce(flags, kProbeSteps, &probe, -1));
  ASSIGN_OR_RETURN(const RunResult without, RunOnce(flags, kProbeSteps, nullptr, -2));
  const double served = static_cast<double>(with.load.admitted);
  const double cpu = with.worker_other_cpu_seconds - without.worker_other_cpu_seconds;
  if (served <= 0 || cpu <= 0) {
    return absl::InternalError(absl::StrCat("the probe measured ", served, " requests and ", cpu,
                                            " s of inference CPU; cannot size the load"));
  }
  return cpu / served;
}

absl::Status Run(const InferenceBenchFlags& flags) {
  ASSIGN_OR_RETURN(const worker::FashionMnist data, worker::LoadFashionMnist());
  LoadOptions load;
  load.deadline = flags.deadline;
  load.duration = absl::Hours(1);
  load.images = &data.test;
  if (!flags.trace.empty()) {
    double speedup = 1;
    if (!absl::SimpleAtod(flags.trace_speedup, &speedup) || speedup <= 0) {
      return absl::InvalidArgumentError("--trace-speedup must be a positive number");
    }
    ASSIGN_OR_RETURN(load.arrivals, tools::LoadTraceArrivals(flags.trace, speedup, 1000000));
  }
  double rate = 0;
  double cpu_per_request = 0;
  if (flags.rate == "auto") {
    ASSIGN_OR_RETURN(cpu_per_request, ProbeCpuPerRequest(flags, load));
    rate = 0.5 / cpu_per_request;
    spdlog::info("{:.0f} us of worker CPU per request: one core serves {:.0f} req/s; load {:.0f}",
                 cpu_per_request * 1e6, 1.0 / cpu_per_request, rate);
  } else if (!absl::SimpleAtod(flags.rate, &rate) || rate <= 0) {
    return absl::InvalidArgumentError("--rate must be a positive number or 'auto'");
  }
  load.rate_per_second = rate;

  std::vector<double> worker_shares, load_shares, cut_short;
  LoadReport pooled;
  std::vector<RunResult> with_runs, without_runs;
  for (int rep = 0; rep < flags.reps; ++rep) {
    for (int order = 0; order < 2; ++order) {
      const bool with_inference = (order == 0) == (rep % 2 == 0);
      spdlog::info("repetition {}/{}: training {} inference", rep + 1, flags.reps,
                   with_inference ? "with" : "without");
      ASSIGN_OR_RETURN(RunResult run, RunOnce(flags, flags.steps, with_inference ? &load : nullptr,
                                              rep * 2 + order));
      (with_inference ? with_runs : without_runs).push_back(std::move(run));
    }
  }
  const double baseline_other_cpu = MedianOf(without_runs, &RunResult::worker_other_cpu_seconds);
  for (const RunResult& run : with_runs) {
    const double capacity = run.wall_seconds * static_cast<double>(flags.ranks);
    worker_shares.push_back(std::max(0.0, run.worker_other_cpu_seconds - baseline_other_cpu) /
                            capacity);
    load_shares.push_back(run.load_cpu_seconds / capacity);
    cut_short.push_back(run.steps_cut_short / static_cast<double>(flags.ranks * flags.steps));
    pooled.sent += run.load.sent;
    pooled.admitted += run.load.admitted;
    pooled.refused += run.load.refused;
    pooled.errors += run.load.errors;
    pooled.unavailable += run.load.unavailable;
    pooled.met += run.load.met;
    if (pooled.first_error.empty()) pooled.first_error = run.load.first_error;
    for (double v : run.load.latency_ms) pooled.latency_ms.push_back(v);
    for (double v : run.load.preemption_ms) pooled.preemption_ms.push_back(v);
  }
  const double with = MedianOf(with_runs, &RunResult::samples_per_second);
  const double without = MedianOf(without_runs, &RunResult::samples_per_second);
  const double worker_share = Median(worker_shares), load_share = Median(load_shares);
  const double share = worker_share + load_share;
  const double retention = without > 0 && share < 1 ? (with / without) / (1.0 - share) : 0;
  json result = {
      {"ranks", flags.ranks},
      {"steps", flags.steps},
      {"reps", flags.reps},
      {"bind", flags.bind},
      {"deadline_ms", absl::ToDoubleMilliseconds(flags.deadline)},
      {"rate_per_second", flags.trace.empty() ? rate : 0.0},
      {"worker_cpu_us_per_request", cpu_per_request * 1e6},
      {"trace", flags.trace},
      {"requests", pooled.sent},
      {"deadline_attainment", pooled.deadline_attainment()},
      {"refused", pooled.refused},
      {"errors", pooled.errors},
      {"unavailable", pooled.unavailable},
      {"latency_p50_ms", Percentile(pooled.latency_ms, 50)},
      {"latency_p99_ms", Percentile(pooled.latency_ms, 99)},
      {"preemption_p50_ms", Percentile(pooled.preemption_ms, 50)},
      {"preemption_p99_ms", Percentile(pooled.preemption_ms, 99)},
      {"training_samples_per_second_with_inference", with},
      {"training_samples_per_second_without_inference", without},
      {"worker_inference_cpu_share", worker_share},
      {"load_generator_cpu_share", load_share},
      {"steps_cut_short_fraction", Median(cut_short)},
      {"allreduce_share_with_inference", MedianOf(with_runs, &RunResult::allreduce_share)},
      {"allreduce_share_without_inference", MedianOf(without_runs, &RunResult::allreduce_share)},
      {"trainer_cpu_us_per_sample_with_inference",
       MedianOf(with_runs, &RunResult::trainer_us_per_sample)},
      {"trainer_cpu_us_per_sample_without_inference",
       MedianOf(without_runs, &RunResult::trainer_us_per_sample)},
      {"trainer_cpu_share_with_inference", MedianOf(with_runs, &RunResult::trainer_cpu_share)},
      {"trainer_cpu_share_without_inference",
       MedianOf(without_runs, &RunResult::trainer_cpu_share)},
      {"training_retention", retention}};
  if (!pooled.first_error.empty()) result["first_error"] = pooled.first_error;
  if (flags.output == "json") {
    std::cout << result.dump() << std::endl;
    return absl::OkStatus();
  }
  std::printf("%-46s %s\n", "metric", "value");
  for (const auto& [key, value] : result.items()) {
    std::printf("%-46s %s\n", key.c_str(), value.dump().c_str());
  }
  return absl::OkStatus();
}

}  // namespace

int RunInferenceBenchCommand(const std::vector<std::string>& args) {
  InferenceBenchFlags flags;
  SubcommandFlags subcommand_flags("inference");
  FlagParser& parser = subcommand_flags.parser();
  parser.Int("ranks", &flags.ranks, "training ranks");
  parser.Int("steps", &flags.steps, "training steps per run");
  parser.Int("reps", &flags.reps, "repetitions (each: one run with, one without inference)");
  parser.Duration("deadline", &flags.deadline, "inference deadline");
  parser.String("rate", &flags.rate, "requests/s (Poisson), or auto: half of one core's capacity");
  parser.String("trace", &flags.trace, "replay arrivals from an inference trace CSV");
  parser.String("trace-speedup", &flags.trace_speedup, "time compression of the trace");
  parser.String("job", &flags.job, "job YAML");
  parser.String("bind", &flags.bind,
                "core: each rank on a CPU of its own (as mpirun does), or none");
  parser.String("output", &flags.output, "json for one JSON object");
  parser.Short('o', "output");
  if (std::optional<int> exit_code = subcommand_flags.ParseOrExitCode(args)) return *exit_code;
  if (flags.ranks < 1 || flags.steps < 1 || flags.reps < 1 ||
      (!flags.output.empty() && flags.output != "json") ||
      (flags.bind != "core" && flags.bind != "none")) {
    std::fprintf(stderr,
                 "cosched-bench inference: --ranks, --steps and --reps must be >= 1, "
                 "-o takes only json, --bind core or none\n");
    return 2;
  }
  if (absl::Status s = Run(flags); !s.ok()) {
    std::fprintf(stderr, "cosched-bench inference: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace cosched::bench
