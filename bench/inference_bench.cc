// File: bench/inference_bench.cc
// Method: each repetition runs the same 2-rank standalone job twice, once with inference
// traffic at every rank and once without, alternating which goes first; the reported
// training numbers are medians over repetitions, the inference numbers pool every request.
//   training_retention = (samples/s with / samples/s without) / (1 - inference share),
// where the inference share is the workers' inference compute time over all ranks' time.
#include "bench/inference_bench.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "tools/inference_load.h"

namespace cosched::bench {
namespace {

using nlohmann::json;
using tools::LoadOptions;
using tools::LoadReport;
using tools::Percentile;

struct InferenceBenchFlags {
  int64_t ranks = 2;
  int64_t steps = 1000;
  int64_t reps = 3;
  absl::Duration deadline = absl::Milliseconds(20);
  std::string rate = "auto";
  std::string trace;
  std::string trace_speedup = "1";
  std::string job = "configs/jobs/fashion-mlp.yaml";
  std::string output;
};

struct RunResult {
  double samples_per_second = 0;
  double wall_seconds = 0;
  LoadReport load;  // empty without inference
};

std::string SiblingBinary(const std::string& name) {
  std::error_code ec;
  return (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / name).string();
}

absl::StatusOr<json> AwaitEvent(Subprocess& process, absl::string_view event, absl::Time deadline) {
  while (true) {
    ASSIGN_OR_RETURN(const std::string line, process.ReadLine(deadline));
    json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object() && parsed.value("event", "") == event) return parsed;
  }
}

// Starts the job's ranks; returns them with their inference addresses.
absl::Status StartJob(const InferenceBenchFlags& flags, const std::string& dir,
                      std::vector<std::unique_ptr<Subprocess>>& workers,
                      std::vector<std::string>& addresses) {
  for (int rank = 0; rank < flags.ranks; ++rank) {
    ASSIGN_OR_RETURN(
        auto worker,
        Subprocess::Spawn({SiblingBinary("cosched-worker"), "--standalone", "--job", flags.job,
                           "--bootstrap", "file:" + dir, "--rank", absl::StrCat(rank), "--world",
                           absl::StrCat(flags.ranks), "--steps", absl::StrCat(flags.steps),
                           "--checkpoint-dir", dir + "/checkpoints", "--inference-address",
                           "127.0.0.1:0", "--log-level", "warn"}));
    workers.push_back(std::move(worker));
  }
  for (auto& worker : workers) {
    ASSIGN_OR_RETURN(const json ready,
                     AwaitEvent(*worker, "inference_ready", absl::Now() + absl::Minutes(2)));
    addresses.push_back(ready.value("address", ""));
  }
  return absl::OkStatus();
}

absl::StatusOr<RunResult> RunOnce(const InferenceBenchFlags& flags, const LoadOptions* load,
                                  int run_index) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           absl::StrCat("cosched-bench-inference-", ::getpid(), "-", run_index))
                              .string();
  std::filesystem::remove_all(dir);
  std::vector<std::unique_ptr<Subprocess>> workers;
  std::vector<std::string> addresses;
  RETURN_IF_ERROR(StartJob(flags, dir, workers, addresses));
  std::atomic<bool> stop{false};
  absl::StatusOr<LoadReport> report = LoadReport();
  std::thread driver;
  if (load != nullptr) {
    LoadOptions options = *load;
    options.targets = addresses;
    options.stop = &stop;
    driver = std::thread([options, &report] { report = tools::RunInferenceLoad(options); });
  }
  absl::StatusOr<json> finished =
      AwaitEvent(*workers[0], "job_finished", absl::Now() + absl::Minutes(20));
  stop = true;
  if (driver.joinable()) driver.join();
  for (auto& worker : workers) worker->Wait(absl::Now() + absl::Seconds(30)).IgnoreError();
  std::filesystem::remove_all(dir);
  RETURN_IF_ERROR(finished.status());
  RETURN_IF_ERROR(report.status());
  RunResult result;
  result.samples_per_second = finished->value("samples_per_second", 0.0);
  result.wall_seconds = finished->value("wall_seconds", 0.0);
  result.load = *std::move(report);
  return result;
}

double Median(std::vector<double> values) { return Percentile(std::move(values), 50); }

absl::Status Run(const InferenceBenchFlags& flags) {
  ASSIGN_OR_RETURN(const worker::FashionMnist data, worker::LoadFashionMnist());
  LoadOptions load;
  load.deadline = flags.deadline;
  load.duration = absl::Hours(1);
  load.images = &data.test;
  double speedup = 1;
  if (!flags.trace.empty()) {
    if (!absl::SimpleAtod(flags.trace_speedup, &speedup) || speedup <= 0) {
      return absl::InvalidArgumentError("--trace-speedup must be a positive number");
    }
    ASSIGN_OR_RETURN(load.arrivals, tools::LoadTraceArrivals(flags.trace, speedup, 1000000));
  }
  double rate = 0;
  if (flags.rate == "auto") {
    // Half of one core's inference capacity: capacity = 1 / the compute time of one
    // single-image request, measured by a short closed-loop probe during training.
    LoadOptions probe = load;
    probe.arrivals.clear();
    probe.rate_per_second = 200;
    probe.duration = absl::Seconds(2);
    spdlog::info("probing inference service time (2 s at 200 req/s during training)");
    ASSIGN_OR_RETURN(const RunResult probed, RunOnce(flags, &probe, -1));
    const double service_ms = Median(probed.load.compute_ms);
    if (service_ms <= 0) return absl::InternalError("probe measured no inference compute");
    rate = 0.5 * 1000.0 / service_ms;
    spdlog::info("median compute {:.3f} ms per request: capacity {:.0f} req/s, load {:.0f} req/s",
                 service_ms, 1000.0 / service_ms, rate);
  } else if (!absl::SimpleAtod(flags.rate, &rate) || rate <= 0) {
    return absl::InvalidArgumentError("--rate must be a positive number or 'auto'");
  }
  load.rate_per_second = rate;

  std::vector<double> with_sps, without_sps, shares;
  LoadReport pooled;
  for (int rep = 0; rep < flags.reps; ++rep) {
    for (int order = 0; order < 2; ++order) {
      const bool with_inference = (order == 0) == (rep % 2 == 0);
      spdlog::info("repetition {}/{}: training {} inference", rep + 1, flags.reps,
                   with_inference ? "with" : "without");
      ASSIGN_OR_RETURN(const RunResult run,
                       RunOnce(flags, with_inference ? &load : nullptr, rep * 2 + order));
      if (!with_inference) {
        without_sps.push_back(run.samples_per_second);
        continue;
      }
      with_sps.push_back(run.samples_per_second);
      double compute_seconds = 0;
      for (double ms : run.load.compute_ms) compute_seconds += ms / 1000.0;
      shares.push_back(compute_seconds / (run.wall_seconds * static_cast<double>(flags.ranks)));
      pooled.sent += run.load.sent;
      pooled.admitted += run.load.admitted;
      pooled.refused += run.load.refused;
      pooled.errors += run.load.errors;
      pooled.met += run.load.met;
      for (double v : run.load.latency_ms) pooled.latency_ms.push_back(v);
      for (double v : run.load.preemption_ms) pooled.preemption_ms.push_back(v);
    }
  }
  const double with = Median(with_sps), without = Median(without_sps), share = Median(shares);
  const double retention = without > 0 ? (with / without) / (1.0 - share) : 0;
  const json result = {{"ranks", flags.ranks},
                       {"steps", flags.steps},
                       {"reps", flags.reps},
                       {"deadline_ms", absl::ToDoubleMilliseconds(flags.deadline)},
                       {"rate_per_second", flags.trace.empty() ? rate : 0.0},
                       {"trace", flags.trace},
                       {"requests", pooled.sent},
                       {"deadline_attainment", pooled.deadline_attainment()},
                       {"refused", pooled.refused},
                       {"errors", pooled.errors},
                       {"latency_p50_ms", Percentile(pooled.latency_ms, 50)},
                       {"latency_p99_ms", Percentile(pooled.latency_ms, 99)},
                       {"preemption_p50_ms", Percentile(pooled.preemption_ms, 50)},
                       {"preemption_p99_ms", Percentile(pooled.preemption_ms, 99)},
                       {"training_samples_per_second_with_inference", with},
                       {"training_samples_per_second_without_inference", without},
                       {"inference_compute_share", share},
                       {"training_retention", retention}};
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
  FlagParser parser("cosched-bench inference");
  parser.Int("ranks", &flags.ranks, "training ranks");
  parser.Int("steps", &flags.steps, "training steps per run");
  parser.Int("reps", &flags.reps, "repetitions (each: one run with, one without inference)");
  parser.Duration("deadline", &flags.deadline, "inference deadline");
  parser.String("rate", &flags.rate, "requests/s (Poisson), or auto: half of one core's capacity");
  parser.String("trace", &flags.trace, "replay arrivals from an inference trace CSV");
  parser.String("trace-speedup", &flags.trace_speedup, "time compression of the trace");
  parser.String("job", &flags.job, "job YAML");
  std::vector<std::string> argv_storage = {"inference"};
  for (const std::string& a : args) {
    if (a == "-o") {
      argv_storage.push_back("--output");
    } else {
      argv_storage.push_back(a);
    }
  }
  parser.String("output", &flags.output, "json for one JSON object (also -o json)");
  std::vector<char*> argv;
  for (std::string& a : argv_storage) argv.push_back(a.data());
  if (absl::Status s = parser.Parse(static_cast<int>(argv.size()), argv.data());
      !s.ok() || parser.help_requested()) {
    std::fprintf(stderr, "%s\n%s", s.ok() ? "" : std::string(s.message()).c_str(),
                 parser.Usage().c_str());
    return s.ok() ? 0 : 2;
  }
  if (flags.ranks < 1 || flags.steps < 1 || flags.reps < 1 ||
      (!flags.output.empty() && flags.output != "json")) {
    std::fprintf(stderr,
                 "cosched-bench inference: --ranks, --steps and --reps must be >= 1, "
                 "-o takes only json\n");
    return 2;
  }
  if (absl::Status s = Run(flags); !s.ok()) {
    std::fprintf(stderr, "cosched-bench inference: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace cosched::bench
