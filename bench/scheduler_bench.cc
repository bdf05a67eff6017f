// File: bench/scheduler_bench.cc
// Method: the workload (bench/scheduler_bench_workload.h) is generated once from --seed.
// Each repetition runs, in an order that alternates between repetitions (A B, then B A):
//   decisions: the core and the full-scan reference over the same events, one sample per
//              event; per run: decisions/s = events / summed latency, p50/p99/max latency;
//   heartbeats: the real worker-session service and the echo service, --sessions streams
//              for --duration each; per run: heartbeats absorbed per second.
// Every number reported is the median over repetitions of the per-run value; ratios are
// ratios of those medians.
#include "bench/scheduler_bench.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/flags.h"
#include "bench/scheduler_bench_decisions.h"
#include "bench/scheduler_bench_heartbeat.h"
#include "bench/scheduler_bench_workload.h"
#include "bench/stats.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cosched::bench {
namespace {

using nlohmann::json;

constexpr double kDecisionP99GoalMs = 1.0;
constexpr double kHeartbeatGoalRatio = 0.5;

struct SchedulerBenchFlags {
  int64_t nodes = 10000;
  int64_t jobs = 1000;
  int64_t departures = 100;
  int64_t sessions = 64;
  absl::Duration duration = absl::Seconds(3);
  int64_t reps = 5;
  int64_t seed = 1;
  std::string part = "all";
  std::string output;
};

// One run's summary: what a repetition contributes to the medians.
struct DecisionSummary {
  double per_second = 0, p50 = 0, p99 = 0, max = 0, submit_p99 = 0, churn_p99 = 0;
  double placements_per_decision = 0;
};

double Quantile(const std::vector<double>& v, double p) {
  absl::StatusOr<double> q = Percentile(v, p);
  return q.ok() ? *q : 0;
}

DecisionSummary Summarize(const DecisionRun& run, size_t first_churn) {
  DecisionSummary s;
  const std::vector<double>& ms = run.latency_ms;
  s.per_second = run.busy_seconds > 0 ? static_cast<double>(ms.size()) / run.busy_seconds : 0;
  s.p50 = Quantile(ms, 0.5);
  s.p99 = Quantile(ms, 0.99);
  s.max = Quantile(ms, 1.0);
  s.submit_p99 = Quantile({ms.begin(), ms.begin() + first_churn}, 0.99);
  s.churn_p99 = Quantile({ms.begin() + first_churn, ms.end()}, 0.99);
  s.placements_per_decision =
      ms.empty() ? 0 : static_cast<double>(run.placements) / static_cast<double>(ms.size());
  return s;
}

// The medians over repetitions of every field.
DecisionSummary Median(const std::vector<DecisionSummary>& runs) {
  auto median = [&runs](double DecisionSummary::*field) {
    std::vector<double> values;
    for (const DecisionSummary& r : runs) values.push_back(r.*field);
    return Quantile(values, 0.5);
  };
  DecisionSummary m;
  for (double DecisionSummary::*field :
       {&DecisionSummary::per_second, &DecisionSummary::p50, &DecisionSummary::p99,
        &DecisionSummary::max, &DecisionSummary::submit_p99, &DecisionSummary::churn_p99,
        &DecisionSummary::placements_per_decision}) {
    m.*field = median(field);
  }
  return m;
}

void Progress(const std::string& line) {
  std::fprintf(stderr, "scheduler bench: %s\n", line.c_str());
  std::fflush(stderr);
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

json StateJson(const ClusterState& s) {
  return {{"busy_nodes", s.busy_nodes},
          {"running_jobs", s.running_jobs},
          {"waiting_jobs", s.waiting_jobs}};
}

struct DecisionResults {
  DecisionSummary core, reference;
  DecisionRun core_first, reference_first;  // the end states (identical in every repetition)
};

absl::Status RunRepetition(const SchedulerBenchFlags& flags, const Workload& workload, int rep,
                           std::vector<DecisionSummary>* core,
                           std::vector<DecisionSummary>* reference,
                           std::vector<HeartbeatRun>* service, std::vector<HeartbeatRun>* echo,
                           DecisionResults* first) {
  const bool swap = rep % 2 == 1;
  const std::string of = absl::StrCat(rep + 1, "/", flags.reps);
  if (flags.part != "heartbeats") {
    for (int i = 0; i < 2; ++i) {
      const bool is_core = (i == 0) != swap;
      const char* name = is_core ? "core" : "reference";
      const DecisionProgress progress = [&](size_t done, size_t total) {
        Progress(absl::StrFormat("rep %s: %s: %zu of %zu decisions", of, name, done, total));
      };
      ASSIGN_OR_RETURN(DecisionRun run, is_core ? RunCoreDecisions(workload, progress)
                                                : RunReferenceDecisions(workload, progress));
      const DecisionSummary s = Summarize(run, workload.first_churn_event);
      Progress(absl::StrFormat(
          "rep %s: %-9s %6zu decisions in %7.2f s: %10.1f/s, p50 %8.3f ms, p99 %8.3f ms, "
          "max %8.3f ms",
          of, name, run.latency_ms.size(), run.busy_seconds, s.per_second, s.p50, s.p99, s.max));
      (is_core ? core : reference)->push_back(s);
      if (rep == 0) (is_core ? first->core_first : first->reference_first) = std::move(run);
    }
  }
  if (flags.part != "decisions") {
    HeartbeatOptions options;
    options.sessions = static_cast<int>(flags.sessions);
    options.duration = flags.duration;
    for (int i = 0; i < 2; ++i) {
      const bool is_service = (i == 0) != swap;
      ASSIGN_OR_RETURN(HeartbeatRun run,
                       is_service ? RunCoreHeartbeats(options) : RunEchoHeartbeats(options));
      Progress(absl::StrFormat(
          "rep %s: %-9s %d sessions: %d heartbeats absorbed of %d sent in %.2f s: %.0f/s "
          "(%s; longest gap between writes %.2f s, %d sessions expired)",
          of, is_service ? "service" : "echo", options.sessions, run.absorbed, run.sent,
          run.seconds, run.per_second(),
          is_service ? absl::StrCat(run.core_calls, " core calls") : "no core",
          run.longest_write_seconds, run.sessions_lost));
      (is_service ? service : echo)->push_back(run);
    }
  }
  return absl::OkStatus();
}

double MedianRate(const std::vector<HeartbeatRun>& runs) {
  std::vector<double> rates;
  for (const HeartbeatRun& r : runs) rates.push_back(r.per_second());
  return Quantile(rates, 0.5);
}

void PrintTable(const json& r, const SchedulerBenchFlags& flags) {
  std::printf("cosched-bench scheduler: medians of %lld interleaved repetitions (seed %lld)\n\n",
              static_cast<long long>(flags.reps), static_cast<long long>(flags.seed));
  if (r.contains("decisions_per_second")) {
    std::printf("decisions: %lld nodes, %lld jobs, %lld churn events, no network\n",
                static_cast<long long>(flags.nodes), static_cast<long long>(flags.jobs),
                r["churn_events"].get<long long>());
    std::printf("%-22s %12s %10s %10s %10s %12s %12s\n", "", "decisions/s", "p50 ms", "p99 ms",
                "max ms", "submit p99", "churn p99");
    auto row = [&r](const char* name, const std::string& prefix) {
      std::printf(
          "%-22s %12.1f %10.3f %10.3f %10.3f %12.3f %12.3f\n", name,
          r[prefix + "decisions_per_second"].get<double>(),
          r[prefix + "decision_p50_ms"].get<double>(), r[prefix + "decision_p99_ms"].get<double>(),
          r[prefix + "decision_max_ms"].get<double>(), r[prefix + "submit_p99_ms"].get<double>(),
          r[prefix + "churn_p99_ms"].get<double>());
    };
    row("cosched core", "");
    row("full-scan reference", "reference_");
    std::printf(
        "%-22s %12.4f %10s %10.1f   (decisions/s: core / reference; p99: core / "
        "reference)\n",
        "ratio", r["decisions_per_second_ratio"].get<double>(), "",
        r["decision_p99_ratio"].get<double>());
    const json& c = r["core_after_submissions"];
    const json& f = r["reference_after_submissions"];
    std::printf(
        "after the submissions: core %d busy nodes, %d jobs running, %d waiting; reference "
        "%d busy, %d running, %d waiting\n",
        c["busy_nodes"].get<int>(), c["running_jobs"].get<int>(), c["waiting_jobs"].get<int>(),
        f["busy_nodes"].get<int>(), f["running_jobs"].get<int>(), f["waiting_jobs"].get<int>());
    std::printf(
        "placements per decision: core %.1f (each looks only at available nodes), reference %.1f "
        "(each scans all)\n\n",
        r["core_placements_per_decision"].get<double>(),
        r["reference_scans_per_decision"].get<double>());
  }
  if (r.contains("heartbeats_per_second")) {
    std::printf("heartbeats: %lld worker sessions on 127.0.0.1, %s per run\n",
                static_cast<long long>(flags.sessions),
                absl::FormatDuration(flags.duration).c_str());
    std::printf("%-22s %12s\n", "", "heartbeats/s");
    std::printf("%-22s %12.0f\n", "cosched WorkerSession",
                r["heartbeats_per_second"].get<double>());
    std::printf("%-22s %12.0f\n", "echo service", r["echo_heartbeats_per_second"].get<double>());
    std::printf("%-22s %12.3f\n", "ratio", r["heartbeat_ratio"].get<double>());
    std::printf("per run (service / echo):");
    for (const json& ratio : r["heartbeat_ratio_per_run"]) {
      std::printf(" %.3f", ratio.get<double>());
    }
    std::printf("\nheartbeats per core call (coalescing): %.1f\n",
                r["heartbeats_per_core_call"].get<double>());
    std::printf(
        "the service expired live sessions in %d of %lld runs (%lld heartbeats refused)\n\n",
        r["service_runs_with_expired_sessions"].get<int>(), static_cast<long long>(flags.reps),
        r["service_heartbeats_not_absorbed"].get<long long>());
  }
  if (r.contains("decision_p99_goal_met")) {
    std::printf("goal decision p99 <= %.0f ms at %lld nodes: %s (%.3f ms)\n", kDecisionP99GoalMs,
                static_cast<long long>(flags.nodes),
                r["decision_p99_goal_met"].get<bool>() ? "met" : "NOT met",
                r["decision_p99_ms"].get<double>());
  }
  if (r.contains("heartbeat_goal_met")) {
    std::printf("goal heartbeats >= %.1f x echo: %s (%.3f)\n", kHeartbeatGoalRatio,
                r["heartbeat_goal_met"].get<bool>() ? "met" : "NOT met",
                r["heartbeat_ratio"].get<double>());
  }
}

absl::Status Run(const SchedulerBenchFlags& flags) {
  WorkloadOptions wopts;
  wopts.nodes = static_cast<int>(flags.nodes);
  wopts.jobs = static_cast<int>(flags.jobs);
  wopts.departures = static_cast<int>(flags.departures);
  wopts.seed = static_cast<uint64_t>(flags.seed);
  ASSIGN_OR_RETURN(const Workload workload, MakeWorkload(wopts));
  const size_t churn_events = workload.events.size() - workload.first_churn_event;
  Progress(absl::StrFormat("workload: %zu nodes, %zu jobs, %zu churn events (seed %d)",
                           workload.nodes.size(), workload.jobs.size(), churn_events, flags.seed));
  std::vector<DecisionSummary> core, reference;
  std::vector<HeartbeatRun> service, echo;
  DecisionResults first;
  for (int rep = 0; rep < flags.reps; ++rep) {
    RETURN_IF_ERROR(
        RunRepetition(flags, workload, rep, &core, &reference, &service, &echo, &first));
  }
  json r = {{"nodes", flags.nodes},
            {"jobs", flags.jobs},
            {"departures", flags.departures},
            {"sessions", flags.sessions},
            {"duration_seconds", absl::ToDoubleSeconds(flags.duration)},
            {"reps", flags.reps},
            {"seed", flags.seed}};
  if (!core.empty()) {
    const DecisionSummary c = Median(core), f = Median(reference);
    r["decisions"] = workload.events.size();
    r["churn_events"] = churn_events;
    r["decisions_per_second"] = c.per_second;
    r["decision_p50_ms"] = c.p50;
    r["decision_p99_ms"] = c.p99;
    r["decision_max_ms"] = c.max;
    r["submit_p99_ms"] = c.submit_p99;
    r["churn_p99_ms"] = c.churn_p99;
    r["reference_decisions_per_second"] = f.per_second;
    r["reference_decision_p50_ms"] = f.p50;
    r["reference_decision_p99_ms"] = f.p99;
    r["reference_decision_max_ms"] = f.max;
    r["reference_submit_p99_ms"] = f.submit_p99;
    r["reference_churn_p99_ms"] = f.churn_p99;
    r["decisions_per_second_ratio"] = Ratio(c.per_second, f.per_second);
    r["decision_p99_ratio"] = Ratio(c.p99, f.p99);
    r["core_placements_per_decision"] = c.placements_per_decision;
    r["reference_scans_per_decision"] = f.placements_per_decision;
    r["core_after_submissions"] = StateJson(first.core_first.after_submissions);
    r["reference_after_submissions"] = StateJson(first.reference_first.after_submissions);
    r["core_at_end"] = StateJson(first.core_first.at_end);
    r["reference_at_end"] = StateJson(first.reference_first.at_end);
    r["decision_p99_goal_ms"] = kDecisionP99GoalMs;
    r["decision_p99_goal_met"] = c.p99 <= kDecisionP99GoalMs;
  }
  if (!service.empty()) {
    const double s = MedianRate(service), e = MedianRate(echo);
    r["heartbeats_per_second"] = s;
    r["echo_heartbeats_per_second"] = e;
    r["heartbeat_ratio"] = Ratio(s, e);
    r["heartbeat_goal_ratio"] = kHeartbeatGoalRatio;
    r["heartbeat_goal_met"] = Ratio(s, e) >= kHeartbeatGoalRatio;
    // Heartbeats the service refused because it had expired their node, and the runs in
    // which it expired any, over all repetitions.
    int64_t unabsorbed = 0, absorbed = 0, core_calls = 0;
    int runs_with_expiry = 0;
    json ratios = json::array(), expired = json::array();
    for (size_t i = 0; i < service.size(); ++i) {
      const HeartbeatRun& run = service[i];
      unabsorbed += std::max<int64_t>(0, run.sent - run.absorbed);
      absorbed += run.absorbed;
      core_calls += run.core_calls;
      runs_with_expiry += run.sessions_lost > 0;
      // Runs of one repetition are paired: they ran back to back.
      ratios.push_back(Ratio(run.per_second(), echo[i].per_second()));
      expired.push_back(run.sessions_lost);
    }
    r["service_heartbeats_not_absorbed"] = unabsorbed;
    r["service_runs_with_expired_sessions"] = runs_with_expiry;
    r["heartbeat_ratio_per_run"] = ratios;
    r["service_sessions_expired_per_run"] = expired;
    // How many heartbeat messages the service handed the core per ReceiveHeartbeat call.
    r["heartbeats_per_core_call"] =
        core_calls > 0 ? static_cast<double>(absorbed) / static_cast<double>(core_calls) : 0.0;
  }
  if (flags.output == "json") {
    std::cout << r.dump() << std::endl;
  } else {
    PrintTable(r, flags);
    std::fflush(stdout);
  }
  return absl::OkStatus();
}

}  // namespace

int RunSchedulerBenchCommand(const std::vector<std::string>& args) {
  SchedulerBenchFlags flags;
  SubcommandFlags subcommand_flags("scheduler");
  FlagParser& parser = subcommand_flags.parser();
  parser.Int("nodes", &flags.nodes, "nodes registered with the core");
  parser.Int("jobs", &flags.jobs, "jobs submitted");
  parser.Int("departures", &flags.departures,
             "departures after the submissions (each node returns later: 2x churn events)");
  parser.Int("sessions", &flags.sessions, "concurrent worker sessions (heartbeat part)");
  parser.Duration("duration", &flags.duration, "heartbeat time per run");
  parser.Int("reps", &flags.reps, "repetitions (each runs both parts, both sides)");
  parser.Int("seed", &flags.seed, "workload seed");
  parser.String("part", &flags.part, "all, decisions or heartbeats");
  parser.String("output", &flags.output, "json for one JSON object");
  parser.Short('o', "output");
  if (std::optional<int> exit_code = subcommand_flags.ParseOrExitCode(args)) return *exit_code;
  std::string error;
  if (flags.nodes < 1 || flags.jobs < 1 || flags.departures < 0 || flags.sessions < 1 ||
      flags.reps < 1 || flags.seed < 0) {
    error = "--nodes, --jobs, --sessions and --reps must be >= 1, --departures and --seed >= 0";
  } else if (flags.duration <= absl::ZeroDuration()) {
    error = "--duration must be positive";
  } else if (flags.part != "all" && flags.part != "decisions" && flags.part != "heartbeats") {
    error = "--part must be all, decisions or heartbeats";
  } else if (!flags.output.empty() && flags.output != "json") {
    error = "-o takes only json";
  }
  if (!error.empty()) {
    std::fprintf(stderr, "cosched-bench scheduler: %s\n", error.c_str());
    return 2;
  }
  if (absl::Status s = Run(flags); !s.ok()) {
    std::fprintf(stderr, "cosched-bench scheduler: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace cosched::bench
