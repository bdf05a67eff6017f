// File: bench/edge_bench.cc
#include "bench/edge_bench.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/edge_fleet.h"
#include "bench/flags.h"
#include "bench/stats.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cosched::bench {
namespace {

constexpr int64_t kGlobalBatch = 64;

struct EdgeBenchFlags {
  int64_t datacenter = 2;
  int64_t vehicles = 4;
  std::string datacenter_cpu = "0.5";
  std::string vehicle_cpu = "0.2";
  std::string link_mbit = "20";
  int64_t epochs = 6;
  int64_t local_steps = 200;
  std::string outer_lr = "0.7";
  std::string outer_momentum = "0.9";
  std::string compression = "auto";
  int64_t vehicle_batch = 16;
  std::string target = "0.88";
  int64_t max_seconds = 300;
  int64_t reps = 1;
  std::string ways = "datacenter,synchronous,edge";
  std::string scheduler_config = "configs/scheduler.yaml";
  std::string output;
};

// The flags' values, checked.
struct EdgeBenchOptions {
  EdgeFleetOptions fleet;
  int64_t epochs = 6;
  int64_t local_steps = 200;
  double outer_lr = 0.7;
  double outer_momentum = 0.9;
  std::string compression = "auto";
  int64_t vehicle_batch = 16;
  double target = 0.88;
  absl::Duration max_time;
  int64_t reps = 1;
  std::vector<std::string> ways;
  bool json = false;
};

// One run of one way.
struct WayRun {
  std::optional<double> seconds_to_target;  // nullopt: not reached
  double final_accuracy = -1;               // the last evaluation (-1: none)
  double wall_seconds = 0;
  int64_t samples_trained = 0;
  std::optional<double> vehicle_bytes_per_1000_samples;  // nullopt: no vehicles
  std::optional<double> vehicle_utilisation;
  std::string state;  // the job's at the end ("running" when stopped at --max-seconds)
};

absl::StatusOr<double> ParseFraction(absl::string_view flag, const std::string& text, double min,
                                     double max) {
  double value = 0;
  if (!absl::SimpleAtod(text, &value) || !std::isfinite(value) || value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " must be a number in [", min, ", ", max, "], got '", text, "'"));
  }
  return value;
}

absl::StatusOr<EdgeBenchOptions> CheckFlags(const EdgeBenchFlags& flags) {
  EdgeBenchOptions options;
  if (flags.datacenter < 1 || flags.vehicles < 1 || flags.epochs < 1 || flags.local_steps < 1 ||
      flags.reps < 1 || flags.max_seconds < 1) {
    return absl::InvalidArgumentError(
        "--datacenter, --vehicles, --epochs, --local-steps, --reps and --max-seconds must be >= 1");
  }
  if (!flags.output.empty() && flags.output != "json") {
    return absl::InvalidArgumentError(absl::StrCat("-o takes only json, got '", flags.output, "'"));
  }
  options.fleet.datacenter = static_cast<int>(flags.datacenter);
  options.fleet.vehicles = static_cast<int>(flags.vehicles);
  ASSIGN_OR_RETURN(options.fleet.datacenter_cpu,
                   ParseFraction("datacenter-cpu", flags.datacenter_cpu, 0.01, 64));
  ASSIGN_OR_RETURN(options.fleet.vehicle_cpu,
                   ParseFraction("vehicle-cpu", flags.vehicle_cpu, 0.01, 64));
  ASSIGN_OR_RETURN(options.fleet.vehicle_link_mbit, ParseLinkRate("--link-mbit", flags.link_mbit));
  ASSIGN_OR_RETURN(options.target, ParseFraction("target", flags.target, 0.1, 1));
  options.epochs = flags.epochs;
  options.local_steps = flags.local_steps;
  ASSIGN_OR_RETURN(options.outer_lr, ParseFraction("outer-lr", flags.outer_lr, 0.01, 10));
  ASSIGN_OR_RETURN(options.outer_momentum,
                   ParseFraction("outer-momentum", flags.outer_momentum, 0, 0.99));
  if (flags.compression != "auto" && flags.compression != "none" && flags.compression != "fp16" &&
      flags.compression != "int8") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--compression must be auto, none, fp16 or int8, got '", flags.compression, "'"));
  }
  options.compression = flags.compression;
  if (flags.vehicle_batch < 1) return absl::InvalidArgumentError("--vehicle-batch must be >= 1");
  options.vehicle_batch = flags.vehicle_batch;
  options.max_time = absl::Seconds(flags.max_seconds);
  options.reps = flags.reps;
  for (absl::string_view way : absl::StrSplit(flags.ways, ',', absl::SkipEmpty())) {
    if (way != "datacenter" && way != "synchronous" && way != "edge") {
      return absl::InvalidArgumentError(
          absl::StrCat("--ways: unknown way '", way, "' (known: datacenter, synchronous, edge)"));
    }
    options.ways.emplace_back(way);
  }
  if (options.ways.empty()) return absl::InvalidArgumentError("--ways names no way");
  options.json = flags.output == "json";
  options.fleet.scheduler_config = flags.scheduler_config;
  return options;
}

// fashion-mlp's model and optimizer; the edge section only for the edge way. The data-center
// way and the synchronous one take every member they have from the start (min = max), so the
// clock measures training, not growth.
std::string JobYaml(const EdgeBenchOptions& options, const std::string& way, int members) {
  const int min = way == "edge" ? options.fleet.datacenter : members;
  std::string yaml = absl::StrFormat(
      "job:\n"
      "  name: edge-bench-%s\n"
      "  seed: 42\n"
      "  model: {hidden_sizes: [256, 128]}\n"
      "  optimizer: {name: adam, learning_rate: 0.001, schedule: linear}\n"
      "  training: {global_batch: %d, micro_batch: 16, epochs: %d, shard_size: 64, "
      "log_every_steps: 10}\n"
      "  data: {dir: /usr/share/datasets/fashion-mnist}\n"
      "  checkpoint: {dir: \"\"}\n"
      "  workers: {min: %d, max: %d}\n"
      "  collectives: {timeout: 60s}\n",
      way, kGlobalBatch, options.epochs, min, members);
  if (way == "edge") {
    absl::StrAppendFormat(&yaml,
                          "  edge: {local_steps: %d, compression: %s, sync_min_link_mbps: %g,\n"
                          "         vehicle_batch: %d, outer_optimizer: {learning_rate: %g, "
                          "momentum: %g}}\n",
                          options.local_steps, options.compression,
                          options.fleet.vehicle_link_mbit * 5, options.vehicle_batch,
                          options.outer_lr, options.outer_momentum);
  }
  return yaml;
}

absl::StatusOr<WayRun> RunWay(const EdgeBenchOptions& options, const std::string& way, int rep) {
  EdgeFleetOptions fleet_options = options.fleet;
  if (way == "datacenter") fleet_options.vehicles = 0;
  char dir_template[] = "/tmp/cosched-bench-edge-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) return absl::InternalError("mkdtemp failed");
  fleet_options.work_dir = dir_template;
  ASSIGN_OR_RETURN(std::unique_ptr<EdgeFleet> fleet, EdgeFleet::Start(fleet_options));
  const int members = fleet_options.datacenter + fleet_options.vehicles;
  VehicleCounters before;
  if (fleet_options.vehicles > 0) {
    ASSIGN_OR_RETURN(before, fleet->ReadVehicleCounters());
  }
  ASSIGN_OR_RETURN(const std::string job_id, fleet->Submit(JobYaml(options, way, members)));
  const absl::Time start = absl::Now();
  WayRun run;
  cosched::v1::JobStatus job;
  absl::Time last_progress = start;
  while (true) {
    ASSIGN_OR_RETURN(job, fleet->GetJob(job_id));
    const absl::Duration elapsed = absl::Now() - start;
    if (job.test_accuracy() >= 0) run.final_accuracy = job.test_accuracy();
    if (!run.seconds_to_target.has_value() && job.test_accuracy() >= options.target) {
      run.seconds_to_target = absl::ToDoubleSeconds(elapsed);
    }
    if (job.state() == "succeeded" || job.state() == "failed" || elapsed > options.max_time) break;
    if (absl::Now() - last_progress >= absl::Seconds(10)) {
      std::fprintf(
          stderr, "  %s (rep %d): %3.0f s, %s, step %lld, epoch %lld, accuracy %s\n", way.c_str(),
          rep, absl::ToDoubleSeconds(elapsed), job.state().c_str(),
          static_cast<long long>(job.step()), static_cast<long long>(job.epoch()),
          job.test_accuracy() < 0 ? "-" : absl::StrFormat("%.4f", job.test_accuracy()).c_str());
      last_progress = absl::Now();
    }
    absl::SleepFor(absl::Milliseconds(250));  // polling the scheduler's view of the job
  }
  run.wall_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  run.state = job.state();
  if (job.state() == "failed") {
    std::string events;
    for (const auto& event : job.events()) absl::StrAppend(&events, "\n  ", event.what());
    return absl::InternalError(absl::StrCat("the ", way, " job failed:", events));
  }
  run.samples_trained = way == "edge" ? static_cast<int64_t>(job.edge().samples_trained())
                                      : job.step() * kGlobalBatch;
  if (fleet_options.vehicles > 0) {
    ASSIGN_OR_RETURN(const VehicleCounters after, fleet->ReadVehicleCounters());
    if (run.samples_trained > 0) {
      run.vehicle_bytes_per_1000_samples =
          1000.0 * static_cast<double>(after.link_bytes - before.link_bytes) /
          static_cast<double>(run.samples_trained);
    }
    run.vehicle_utilisation =
        (after.cpu_seconds - before.cpu_seconds) /
        (fleet_options.vehicles * fleet_options.vehicle_cpu * run.wall_seconds);
  }
  return run;
}

// The median of the values present; nullopt when none is.
std::optional<double> MedianOf(const std::vector<std::optional<double>>& values) {
  std::vector<double> present;
  for (const auto& v : values) {
    if (v.has_value()) present.push_back(*v);
  }
  if (present.empty()) return std::nullopt;
  return Summarize(present)->median;
}

struct WaySummary {
  std::optional<double> seconds_to_target;  // median over the runs that reached it
  int reached = 0;                          // runs that reached the target
  int runs = 0;
  std::optional<double> final_accuracy;
  std::optional<double> vehicle_bytes_per_1000_samples;
  std::optional<double> vehicle_utilisation;
  std::optional<double> wall_seconds;
};

WaySummary Summarise(const std::vector<WayRun>& runs) {
  WaySummary summary;
  summary.runs = static_cast<int>(runs.size());
  std::vector<std::optional<double>> to_target, accuracy, bytes, utilisation, wall;
  for (const WayRun& run : runs) {
    summary.reached += run.seconds_to_target.has_value();
    to_target.push_back(run.seconds_to_target);
    accuracy.push_back(run.final_accuracy >= 0 ? std::optional<double>(run.final_accuracy)
                                               : std::nullopt);
    bytes.push_back(run.vehicle_bytes_per_1000_samples);
    utilisation.push_back(run.vehicle_utilisation);
    wall.push_back(run.wall_seconds);
  }
  summary.seconds_to_target = MedianOf(to_target);
  summary.final_accuracy = MedianOf(accuracy);
  summary.vehicle_bytes_per_1000_samples = MedianOf(bytes);
  summary.vehicle_utilisation = MedianOf(utilisation);
  summary.wall_seconds = MedianOf(wall);
  return summary;
}

nlohmann::json OrNull(const std::optional<double>& value) {
  return value.has_value() ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

// `value` with `decimals` digits after the point, or "-" when it was not measured.
std::string Cell(const std::optional<double>& value, int decimals) {
  return value.has_value() ? absl::StrFormat("%.*f", decimals, *value) : std::string("-");
}

void PrintTable(const EdgeBenchOptions& options,
                const std::map<std::string, WaySummary>& summaries) {
  std::printf(
      "edge bench: %d data-center hosts at %.2f CPU, %d vehicle hosts at %.2f CPU behind %g "
      "Mbit/s links; Fashion-MNIST MLP, %lld epochs, target %.2f; medians of %lld rep(s)\n",
      options.fleet.datacenter, options.fleet.datacenter_cpu, options.fleet.vehicles,
      options.fleet.vehicle_cpu, options.fleet.vehicle_link_mbit,
      static_cast<long long>(options.epochs), options.target, static_cast<long long>(options.reps));
  std::printf("%-12s %16s %9s %14s %24s %12s\n", "way", "s to target", "final", "wall s",
              "vehicle B / 1000 samples", "vehicle util");
  for (const std::string& way : options.ways) {
    const WaySummary& s = summaries.at(way);
    const std::string to_target =
        s.reached == 0 ? absl::StrFormat("not reached") : Cell(s.seconds_to_target, 1);
    std::printf("%-12s %16s %9s %14s %24s %12s\n", way.c_str(), to_target.c_str(),
                Cell(s.final_accuracy, 4).c_str(), Cell(s.wall_seconds, 1).c_str(),
                Cell(s.vehicle_bytes_per_1000_samples, 0).c_str(),
                Cell(s.vehicle_utilisation, 2).c_str());
  }
}

void PrintJson(const EdgeBenchOptions& options,
               const std::map<std::string, WaySummary>& summaries) {
  for (const std::string& way : options.ways) {
    const WaySummary& s = summaries.at(way);
    nlohmann::json line = {
        {"way", way},
        {"seconds_to_target", s.reached > 0 ? OrNull(s.seconds_to_target) : nullptr},
        {"final_accuracy", OrNull(s.final_accuracy)},
        {"vehicle_bytes_per_1000_samples", OrNull(s.vehicle_bytes_per_1000_samples)},
        {"vehicle_utilisation", OrNull(s.vehicle_utilisation)},
        {"wall_seconds", OrNull(s.wall_seconds)},
        {"runs", s.runs},
        {"runs_reaching_target", s.reached},
        {"target", options.target},
        {"datacenter_hosts", options.fleet.datacenter},
        {"vehicle_hosts", way == "datacenter" ? 0 : options.fleet.vehicles},
        {"datacenter_cpu", options.fleet.datacenter_cpu},
        {"vehicle_cpu", options.fleet.vehicle_cpu},
        {"vehicle_link_mbit", options.fleet.vehicle_link_mbit}};
    std::cout << line.dump() << "\n";
  }
}

absl::Status Run(const EdgeBenchOptions& options) {
  std::map<std::string, std::vector<WayRun>> runs;
  for (int rep = 1; rep <= options.reps; ++rep) {
    for (const std::string& way : options.ways) {  // interleaved: drift hits every way alike
      std::fprintf(stderr, "edge bench: %s, rep %d of %lld\n", way.c_str(), rep,
                   static_cast<long long>(options.reps));
      ASSIGN_OR_RETURN(WayRun run, RunWay(options, way, rep));
      std::fprintf(stderr, "  %s (rep %d): %s after %.1f s, accuracy %.4f, target %s\n",
                   way.c_str(), rep, run.state.c_str(), run.wall_seconds, run.final_accuracy,
                   run.seconds_to_target.has_value()
                       ? absl::StrFormat("at %.1f s", *run.seconds_to_target).c_str()
                       : "not reached");
      runs[way].push_back(std::move(run));
    }
  }
  std::map<std::string, WaySummary> summaries;
  for (const auto& [way, way_runs] : runs) summaries[way] = Summarise(way_runs);
  if (options.json) {
    PrintJson(options, summaries);
  } else {
    PrintTable(options, summaries);
  }
  return absl::OkStatus();
}

}  // namespace

int RunEdgeBenchCommand(const std::vector<std::string>& args) {
  EdgeBenchFlags flags;
  SubcommandFlags subcommand_flags("edge");
  FlagParser& parser = subcommand_flags.parser();
  parser.Int("datacenter", &flags.datacenter, "data-center hosts (one worker each)");
  parser.Int("vehicles", &flags.vehicles, "vehicle hosts (one worker each)");
  parser.String("datacenter-cpu", &flags.datacenter_cpu, "CPU quota of a data-center host");
  parser.String("vehicle-cpu", &flags.vehicle_cpu, "CPU quota of a vehicle host");
  parser.String("link-mbit", &flags.link_mbit, "each vehicle's link in Mbit/s");
  parser.Int("epochs", &flags.epochs, "the job's epochs");
  parser.Int("local-steps", &flags.local_steps, "the edge tier's inner steps per round (H)");
  parser.String("outer-lr", &flags.outer_lr, "the edge tier's outer learning rate");
  parser.String("outer-momentum", &flags.outer_momentum, "the edge tier's outer Nesterov momentum");
  parser.String("compression", &flags.compression,
                "the edge tier's codec: auto (by link), none, fp16 or int8");
  parser.Int("vehicle-batch", &flags.vehicle_batch,
             "samples per inner step of a vehicle in the edge tier");
  parser.String("target", &flags.target, "test accuracy to reach");
  parser.Int("max-seconds", &flags.max_seconds, "stop a way after this long");
  parser.Int("reps", &flags.reps, "repetitions of every way, interleaved");
  parser.String("ways", &flags.ways, "which ways, comma-separated");
  parser.String("scheduler-config", &flags.scheduler_config, "the scheduler's configuration");
  parser.String("output", &flags.output, "json for one JSON line per way");
  parser.Short('o', "output");
  if (std::optional<int> exit_code = subcommand_flags.ParseOrExitCode(args)) return *exit_code;
  absl::StatusOr<EdgeBenchOptions> options = CheckFlags(flags);
  if (!options.ok()) return subcommand_flags.ValueError(options.status());
  if (absl::Status s = Run(*options); !s.ok()) {
    std::fprintf(stderr, "cosched-bench edge: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace cosched::bench
