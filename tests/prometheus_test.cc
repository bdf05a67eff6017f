// File: tests/prometheus_test.cc
// The scheduler and a worker watched by a real Prometheus server (the Debian `prometheus`
// binary that scripts/install-deps.sh installs), as in a deployment: cosched-scheduler and
// one cosched-worker (datacenter) under it, speaking mutual TLS with certificates made for the
// test, serve /metrics on ephemeral ports; Prometheus
// scrapes both every second from a config generated with those ports. Covered: both targets
// are up (Prometheus parses our exposition), and PromQL over the scraped series shows the
// real state: one datacenter node ready, heartbeats counted and increasing, the decision
// latency histogram usable by histogram_quantile, and the worker reporting itself idle.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "common/tls/dev_pki.h"
#include "nlohmann/json.hpp"
#include "tests/support/http_get.h"
#include "tests/support/scoped_dir.h"
#include "tools/standalone_job.h"

namespace cosched {
namespace {

using nlohmann::json;
using testing::HttpGet;
using testing::ScopedDir;
using tools::AwaitEvent;

constexpr absl::Duration kStartTimeout = absl::Seconds(30);
// Targets come up after Prometheus's first scrape (within one 1 s interval of its start).
constexpr absl::Duration kScrapeTimeout = absl::Seconds(15);

// A port on 127.0.0.1 that was free a moment ago. Prometheus cannot report the port it
// bound, so it gets a fixed one; another process may take it first, hence the retries in
// StartPrometheus.
absl::StatusOr<int> PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) return absl::InternalError("bind/getsockname on 127.0.0.1:0 failed");
  return ntohs(address.sin_port);
}

// Percent-encodes a PromQL expression for a query string (RFC 3986 unreserved kept).
std::string UrlEncode(const std::string& text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppendFormat(&out, "%%%02X", c);
    }
  }
  return out;
}

// The Prometheus config a deployment would use (deploy/prometheus/prometheus.yml), with the
// targets this test's processes actually bound.
// With `rules`, Prometheus also loads that rule file.
std::string PrometheusConfig(int scheduler_metrics_port, int worker_metrics_port,
                             const std::string& rules = "") {
  return absl::StrCat(
      "global:\n"
      "  scrape_interval: 1s\n"
      "  scrape_timeout: 1s\n"
      "  evaluation_interval: 1s\n",
      rules.empty() ? "" : absl::StrCat("rule_files: ['", rules, "']\n"),
      "scrape_configs:\n"
      "  - job_name: cosched-scheduler\n"
      "    static_configs:\n"
      "      - targets: ['127.0.0.1:",
      scheduler_metrics_port,
      "']\n"
      "  - job_name: cosched-worker\n"
      "    static_configs:\n"
      "      - targets: ['127.0.0.1:",
      worker_metrics_port,
      "']\n"
      "        labels: {node_id: dc-1, kind: datacenter}\n");
}

// Stops `process` the way an operator would (SIGTERM) and reaps it; the Subprocess
// destructor's SIGKILL remains the fallback when a test fails before this point.
void Stop(Subprocess& process) {
  process.Kill(SIGTERM);
  const absl::StatusOr<int> code = process.Wait(absl::Now() + absl::Seconds(10));
  EXPECT_TRUE(code.ok()) << process.name() << " did not stop on SIGTERM: " << code.status();
}

class PrometheusTest : public ::testing::Test {
 protected:
  // scripts/install-deps.sh installs Prometheus, so a missing binary is a broken setup: the
  // test fails (before starting anything) rather than skipping and passing unnoticed.
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(COSCHED_PROMETHEUS_BINARY))
        << "Prometheus is not installed (" << COSCHED_PROMETHEUS_BINARY
        << " is missing): this test needs the real server. Install it with "
           "scripts/install-deps.sh (Debian package `prometheus`).";
    absl::StatusOr<tls::DevelopmentPki> pki = tls::DevelopmentPki::Create(dir_.path() + "/certs");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_.emplace(*std::move(pki));
  }

  void StartScheduler() {
    std::vector<std::string> argv = {COSCHED_SCHEDULER_BINARY,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--config",
                                     COSCHED_SCHEDULER_CONFIG,
                                     "--data-dir",
                                     dir_.path() + "/data",
                                     "--metrics-address",
                                     "127.0.0.1:0",
                                     "--log-level",
                                     "warn"};
    const std::vector<std::string> tls_args = tls::DevelopmentPki::Args(pki_->Scheduler());
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    auto process = Subprocess::Spawn(argv);
    ASSERT_TRUE(process.ok()) << process.status();
    scheduler_ = *std::move(process);
    auto ready = AwaitEvent(*scheduler_, "scheduler_ready", absl::Now() + kStartTimeout);
    ASSERT_TRUE(ready.ok()) << "cosched-scheduler did not report ready: " << ready.status();
    address_ = ready->value("address", "");
    scheduler_metrics_port_ = ready->value("metrics_port", 0);
    ASSERT_GT(scheduler_metrics_port_, 0) << ready->dump();
  }

  void StartWorker() {
    absl::StatusOr<tls::TlsFlags> node = pki_->Node("dc-1", "datacenter");
    ASSERT_TRUE(node.ok()) << node.status();
    std::vector<std::string> argv = {COSCHED_WORKER_BINARY,
                                     "--scheduler",
                                     address_,
                                     "--kind",
                                     "datacenter",
                                     "--node-id",
                                     "dc-1",
                                     "--metrics-address",
                                     "127.0.0.1:0",
                                     "--work-dir",
                                     dir_.path() + "/work",
                                     "--log-level",
                                     "warn"};
    const std::vector<std::string> tls_args = tls::DevelopmentPki::Args(*node);
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    auto process = Subprocess::Spawn(argv);
    ASSERT_TRUE(process.ok()) << process.status();
    worker_ = *std::move(process);
    auto started = AwaitEvent(*worker_, "worker_started", absl::Now() + kStartTimeout);
    ASSERT_TRUE(started.ok()) << "cosched-worker did not start: " << started.status();
    worker_metrics_port_ = started->value("metrics_port", 0);
    ASSERT_GT(worker_metrics_port_, 0) << started->dump();
  }

  // Starts Prometheus on a free port and waits until it serves its API. Retries with another
  // port when it exits at start (its port was taken between PickFreePort and its bind).
  void StartPrometheus(const std::string& rules = "") {
    const std::string config = dir_.path() + "/prometheus.yml";
    std::ofstream(config) << PrometheusConfig(scheduler_metrics_port_, worker_metrics_port_, rules);
    for (int attempt = 0; attempt < 3 && prometheus_ == nullptr; ++attempt) {
      const absl::StatusOr<int> port = PickFreePort();
      ASSERT_TRUE(port.ok()) << port.status();
      auto process =
          Subprocess::Spawn({COSCHED_PROMETHEUS_BINARY, "--config.file=" + config,
                             absl::StrCat("--web.listen-address=127.0.0.1:", *port),
                             "--storage.tsdb.path=" + dir_.path() + "/tsdb", "--log.level=warn"});
      ASSERT_TRUE(process.ok()) << process.status();
      if (AwaitReady(**process, *port)) {
        prometheus_ = *std::move(process);
        prometheus_port_ = *port;
      }
    }
    ASSERT_NE(prometheus_, nullptr) << "Prometheus did not become ready (see its log above)";
  }

  // True once GET /-/ready answers 200; false if the process exits or the time runs out.
  static bool AwaitReady(Subprocess& process, int port) {
    for (const absl::Time deadline = absl::Now() + kStartTimeout; absl::Now() < deadline;) {
      if (HttpGet(port, "/-/ready").ok()) return true;
      if (process.Wait(absl::Now() + absl::Milliseconds(100)).ok()) return false;  // exited
    }
    return false;
  }

  // GET <path> from Prometheus's HTTP API, parsed; null JSON (with the error) if it failed.
  json Api(const std::string& path, std::string* error) const {
    const absl::StatusOr<std::string> body = HttpGet(prometheus_port_, path);
    if (!body.ok()) {
      *error = body.status().ToString();
      return json();
    }
    json parsed = json::parse(*body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || parsed.value("status", "") != "success") {
      *error = *body;
      return json();
    }
    return parsed;
  }

  // Polls /api/v1/targets until `expected` targets are active and all up; returns the last
  // list of active targets seen (an array, empty when the API did not answer).
  json AwaitTargetsUp(size_t expected) const {
    json targets = json::array();
    std::string error;
    for (const absl::Time deadline = absl::Now() + kScrapeTimeout; absl::Now() < deadline;) {
      const json reply = Api("/api/v1/targets?state=active", &error);
      targets = reply.is_null()
                    ? json::array()
                    : reply.value(json::json_pointer("/data/activeTargets"), json::array());
      size_t up = 0;
      for (const json& target : targets) up += target.value("health", "") == "up" ? 1 : 0;
      if (up == expected && targets.size() == expected) return targets;
      absl::SleepFor(absl::Milliseconds(200));  // polling a remote state, not waiting on time
    }
    ADD_FAILURE() << "targets not all up after " << kScrapeTimeout << ": "
                  << (targets.empty() ? error : targets.dump(2));
    return targets;
  }

  // The value of instant query `expr` if it returns exactly one series.
  std::optional<double> QueryOne(const std::string& expr, std::string* seen) const {
    std::string error;
    const json reply = Api("/api/v1/query?query=" + UrlEncode(expr), &error);
    *seen = reply.is_null() ? error : reply.dump();
    if (reply.is_null()) return std::nullopt;
    // A vector result: [{"metric": {...}, "value": [time, "number"]}].
    const json result = reply.value(json::json_pointer("/data/result"), json::array());
    if (result.size() != 1) return std::nullopt;
    const json value = result[0].value(json::json_pointer("/value/1"), json());
    if (!value.is_string()) return std::nullopt;
    return std::stod(value.get<std::string>());
  }

  // Polls `expr` until its single value satisfies `holds` (series appear and change with
  // scrapes, once a second); fails the test with the last answer if it never does.
  std::optional<double> AwaitQuery(const std::string& expr,
                                   const std::function<bool(double)>& holds,
                                   const std::string& expectation) const {
    std::string seen;
    std::optional<double> value;
    for (const absl::Time deadline = absl::Now() + kScrapeTimeout; absl::Now() < deadline;) {
      value = QueryOne(expr, &seen);
      if (value.has_value() && holds(*value)) return value;
      absl::SleepFor(absl::Milliseconds(200));  // polling a remote state, not waiting on time
    }
    ADD_FAILURE() << "query " << expr << ": expected " << expectation << " within "
                  << kScrapeTimeout << "; last answer: " << seen;
    return value;
  }

  // Members are destroyed in reverse order: Prometheus, the worker, the scheduler, and only
  // then the directory they write to.
  ScopedDir dir_{"prometheus_test"};
  std::optional<tls::DevelopmentPki> pki_;  // in dir_/certs
  std::unique_ptr<Subprocess> scheduler_;
  std::unique_ptr<Subprocess> worker_;
  std::unique_ptr<Subprocess> prometheus_;
  std::string address_;  // the scheduler's gRPC address, for the worker
  int scheduler_metrics_port_ = 0;
  int worker_metrics_port_ = 0;
  int prometheus_port_ = 0;
};

TEST_F(PrometheusTest, ScrapesTheSchedulerAndAWorker) {
  ASSERT_NO_FATAL_FAILURE(StartScheduler());
  ASSERT_NO_FATAL_FAILURE(StartWorker());
  ASSERT_NO_FATAL_FAILURE(StartPrometheus());

  // Both endpoints scraped without error: Prometheus accepts our text exposition.
  for (const json& target : AwaitTargetsUp(2)) {
    EXPECT_EQ(target.value("lastError", "?"), "") << target.dump(2);
  }
  ASSERT_FALSE(HasFailure());

  // The scheduler's view: the worker registered and is ready; no vehicles, no jobs.
  const auto is = [](double expected) { return [expected](double v) { return v == expected; }; };
  AwaitQuery(R"(cosched_scheduler_nodes{job="cosched-scheduler",kind="datacenter",state="ready"})",
             is(1), "1 datacenter node ready");
  AwaitQuery(R"(cosched_scheduler_nodes{kind="datacenter",state="lost"})", is(0), "0 lost");
  AwaitQuery("cosched_scheduler_eligible_vehicles", is(0), "no eligible vehicles");
  AwaitQuery(R"(cosched_scheduler_jobs{state="running"})", is(0), "no running job");
  // Counters exist at 0 before their first event, so increase() will see that event.
  AwaitQuery(R"(cosched_scheduler_preemptions_total{reason="inference_demand"})", is(0),
             "no preemptions yet, as a series at 0");
  AwaitQuery(R"(cosched_scheduler_inference_routed_total{target="training"})", is(0),
             "no inference routed yet, as a series at 0");

  // Heartbeats are counted and keep arriving (the worker sends one every 500 ms): a later
  // scrape shows more, and rate() over the scraped samples is positive.
  const std::optional<double> first = AwaitQuery(
      "cosched_scheduler_heartbeats_total", [](double v) { return v > 0; }, "> 0 heartbeats");
  ASSERT_TRUE(first.has_value());
  AwaitQuery(
      "cosched_scheduler_heartbeats_total", [&](double v) { return v > *first; },
      absl::StrCat("> ", *first, " (heartbeats increasing)"));
  AwaitQuery(
      "rate(cosched_scheduler_heartbeats_total[10s])", [](double v) { return v > 0; },
      "a positive heartbeat rate");

  // The decision histogram is complete enough for PromQL: the one registration counted, and
  // a p99 of heartbeat handling that is a real duration (well under a second).
  AwaitQuery(R"(cosched_scheduler_decision_seconds_count{handler="register_node"})", is(1),
             "1 registration decision");
  AwaitQuery(
      R"(histogram_quantile(0.99, cosched_scheduler_decision_seconds_bucket{handler="heartbeat"}))",
      [](double v) { return v > 0 && v < 1; }, "a p99 between 0 and 1 s");

  // The worker's own endpoint, with the target labels from the config: idle, no steps.
  AwaitQuery(R"(cosched_worker_state{job="cosched-worker",node_id="dc-1",state="idle"})", is(1),
             "the worker idle");
  AwaitQuery(R"(cosched_worker_steps_total{job="cosched-worker"})", is(0), "no training steps");

  Stop(*prometheus_);
  Stop(*worker_);
  Stop(*scheduler_);
}

// The metric names a PromQL expression uses (cosched_* and up; recording rules' own
// cosched:* names are outputs, not scraped).
std::set<std::string> MetricNames(const std::string& expr) {
  std::set<std::string> names;
  static const std::regex kName(R"(\b(cosched_[a-z0-9_]+|up)\b)");
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), kName);
       it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1].str());
  }
  return names;
}

// deploy/prometheus/rules.yml as a deployment loads it, over a live scheduler and worker:
// every rule evaluates without error, and every metric a rule or a panel of
// deploy/grafana/cosched.json reads is in the scrape (a renamed metric would leave its alert
// silently empty, its panel blank).
TEST_F(PrometheusTest, TheShippedRulesEvaluateOverALiveScrape) {
  ASSERT_NO_FATAL_FAILURE(StartScheduler());
  ASSERT_NO_FATAL_FAILURE(StartWorker());
  ASSERT_NO_FATAL_FAILURE(StartPrometheus(COSCHED_PROMETHEUS_RULES));
  AwaitTargetsUp(2);
  ASSERT_FALSE(HasFailure());

  // Every rule evaluated at least once after both targets were scraped.
  std::string error;
  json rules = json::array();
  const absl::Time scraped = absl::Now();
  for (const absl::Time deadline = absl::Now() + kScrapeTimeout; absl::Now() < deadline;) {
    const json reply = Api("/api/v1/rules", &error);
    rules = json::array();
    bool all_evaluated = !reply.is_null();
    for (const json& group : reply.value(json::json_pointer("/data/groups"), json::array())) {
      for (const json& rule : group.value("rules", json::array())) {
        rules.push_back(rule);
        absl::Time evaluated;
        std::string parse_error;
        if (!absl::ParseTime(absl::RFC3339_full, rule.value("lastEvaluation", ""), &evaluated,
                             &parse_error) ||
            evaluated < scraped) {
          all_evaluated = false;
        }
      }
    }
    if (all_evaluated && !rules.empty()) break;
    absl::SleepFor(absl::Milliseconds(200));  // polling a remote state, not waiting on time
  }
  ASSERT_EQ(rules.size(), 11u) << "the rules of deploy/prometheus/rules.yml: " << rules.dump(2)
                               << error;

  const json names_reply = Api("/api/v1/label/__name__/values", &error);
  ASSERT_FALSE(names_reply.is_null()) << error;
  std::set<std::string> scraped_names;
  for (const json& name : names_reply.value("data", json::array())) {
    scraped_names.insert(name.get<std::string>());
  }
  for (const json& rule : rules) {
    const std::string name = rule.value("name", "?");
    EXPECT_EQ(rule.value("health", ""), "ok") << name << ": " << rule.dump(2);
    EXPECT_EQ(rule.value("lastError", ""), "") << name;
    for (const std::string& metric : MetricNames(rule.value("query", ""))) {
      EXPECT_TRUE(scraped_names.contains(metric))
          << name << " reads " << metric << ", which neither target exposes";
    }
  }
  std::ifstream dashboard_file(COSCHED_GRAFANA_DASHBOARD);
  const json dashboard = json::parse(dashboard_file, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(dashboard.is_discarded()) << COSCHED_GRAFANA_DASHBOARD << " is not JSON";
  int queries = 0;
  for (const json& panel : dashboard.value("panels", json::array())) {
    for (const json& target : panel.value("targets", json::array())) {
      ++queries;
      for (const std::string& metric : MetricNames(target.value("expr", ""))) {
        EXPECT_TRUE(scraped_names.contains(metric))
            << "panel '" << panel.value("title", "?") << "' reads " << metric
            << ", which neither target exposes";
      }
    }
  }
  EXPECT_GT(queries, 0) << "no panel queries in " << COSCHED_GRAFANA_DASHBOARD;

  // Nothing is wrong with this cluster: no alert fires (the scheduler is up, no job failed).
  const json alerts = Api("/api/v1/alerts", &error);
  ASSERT_FALSE(alerts.is_null()) << error;
  for (const json& alert : alerts.value(json::json_pointer("/data/alerts"), json::array())) {
    EXPECT_NE(alert.value("state", ""), "firing") << alert.dump(2);
  }

  Stop(*prometheus_);
  Stop(*worker_);
  Stop(*scheduler_);
}

}  // namespace
}  // namespace cosched
