// File: tools/standalone_demo_main.cc
// cosched-standalone-demo: what `make run` runs until the scheduler exists. It starts a
// 2-rank standalone training job (two cosched-worker processes over a file store), drives
// inference requests with deadlines at both ranks while they train, shows the training
// progress and ends with a summary table and one JSON line.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "tools/inference_load.h"
#include "tools/standalone_job.h"

namespace cosched::tools {
namespace {

using nlohmann::json;

struct DemoFlags {
  std::string job = "configs/jobs/fashion-mlp.yaml";
  int64_t ranks = 2;
  double rate = 200;
  absl::Duration deadline = absl::Milliseconds(20);
};

absl::Status RunDemo(const DemoFlags& flags) {
  const absl::Time start = absl::Now();
  ASSIGN_OR_RETURN(const worker::FashionMnist data, worker::LoadFashionMnist());
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("cosched-run-", ::getpid())).string();
  std::filesystem::remove_all(dir);
  std::printf(
      "cosched standalone demo: %lld ranks train %s over gloo; inference at %.0f req/s "
      "with a %s deadline goes to every rank\n\n",
      static_cast<long long>(flags.ranks), flags.job.c_str(), flags.rate,
      absl::FormatDuration(flags.deadline).c_str());
  const absl::Time deadline = absl::Now() + absl::Minutes(10);
  StandaloneJobOptions options;
  options.job_yaml = flags.job;
  options.ranks = static_cast<int>(flags.ranks);
  options.dir = dir;
  ASSIGN_OR_RETURN(auto job, StandaloneJob::Start(options, deadline));
  LoadOptions load;
  load.targets = job->inference_addresses();
  load.rate_per_second = flags.rate;
  load.deadline = flags.deadline;
  load.duration = absl::Hours(1);
  load.images = &data.test;
  std::atomic<bool> stop{false};
  load.stop = &stop;
  absl::StatusOr<LoadReport> report = absl::UnknownError("load did not run");
  std::thread driver([&] { report = RunInferenceLoad(load); });
  absl::StatusOr<std::vector<json>> finished =
      job->AwaitFinished(deadline, [](const std::string& line) {
        if (line.empty() || line[0] == '{') return;  // other events
        std::printf("  [train] %s\n", line.c_str());
        std::fflush(stdout);
      });
  stop = true;
  driver.join();
  RETURN_IF_ERROR(finished.status());
  RETURN_IF_ERROR(report.status());

  const json& result = finished->front();
  std::printf("\n%-28s %s\n", "training", "");
  std::printf("  %-26s %.4f\n", "test accuracy", result.value("test_accuracy", 0.0));
  std::printf("  %-26s %lld\n", "steps", static_cast<long long>(result.value("steps", 0)));
  std::printf("  %-26s %.0f\n", "samples/s (all ranks)", result.value("samples_per_second", 0.0));
  std::printf("  %-26s %lld\n", "steps cut short (rank 0)",
              static_cast<long long>(result.value("preempted_steps", 0)));
  std::printf("%-28s\n", "inference");
  std::printf("  %-26s %lld sent, %lld admitted, %lld refused, %lld unavailable, %lld errors\n",
              "requests", static_cast<long long>(report->sent),
              static_cast<long long>(report->admitted), static_cast<long long>(report->refused),
              static_cast<long long>(report->unavailable), static_cast<long long>(report->errors));
  std::printf("  %-26s %.4f\n", "deadline attainment", report->deadline_attainment());
  std::printf("  %-26s p50 %.2f ms, p99 %.2f ms\n", "latency (client)",
              Percentile(report->latency_ms, 50), Percentile(report->latency_ms, 99));
  std::printf("  %-26s p50 %.3f ms, p99 %.3f ms\n", "arrival to compute start",
              Percentile(report->preemption_ms, 50), Percentile(report->preemption_ms, 99));
  std::printf("  %-26s %.4f\n", "accuracy of answers",
              report->admitted > 0 ? static_cast<double>(report->correct) / report->admitted : 0);
  if (!report->first_error.empty()) std::printf("  first error: %s\n", report->first_error.c_str());
  const json summary = {{"event", "demo_finished"},
                        {"test_accuracy", result.value("test_accuracy", 0.0)},
                        {"steps", result.value("steps", 0)},
                        {"training_samples_per_second", result.value("samples_per_second", 0.0)},
                        {"inference_sent", report->sent},
                        {"inference_refused", report->refused},
                        {"deadline_attainment", report->deadline_attainment()},
                        {"latency_p99_ms", Percentile(report->latency_ms, 99)},
                        {"preemption_p99_ms", Percentile(report->preemption_ms, 99)},
                        {"wall_seconds", absl::ToDoubleSeconds(absl::Now() - start)}};
  std::printf("%s\n", summary.dump().c_str());
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  DemoFlags flags;
  FlagParser parser("cosched-standalone-demo");
  parser.String("job", &flags.job, "job YAML");
  parser.Int("ranks", &flags.ranks, "training ranks (processes)");
  parser.Duration("deadline", &flags.deadline, "inference deadline");
  std::string rate = "200";
  parser.String("rate", &rate, "inference requests per second (Poisson)");
  if (std::optional<int> exit_code = parser.ParseOrExitCode(argc, argv)) return *exit_code;
  if (!absl::SimpleAtod(rate, &flags.rate) || flags.rate <= 0 || flags.ranks < 1) {
    std::fprintf(stderr,
                 "cosched-standalone-demo: --rate must be a positive number and "
                 "--ranks at least 1\n");
    return 2;
  }
  InitLogging("warn", "demo").IgnoreError();
  if (absl::Status s = RunDemo(flags); !s.ok()) {
    std::fprintf(stderr, "cosched-standalone-demo: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cosched::tools

int main(int argc, char** argv) { return cosched::tools::Main(argc, argv); }
