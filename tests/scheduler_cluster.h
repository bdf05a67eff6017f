// File: tests/scheduler_cluster.h
// The fixture of the end-to-end tests that run cosched-scheduler and cosched-worker processes
// in scheduler mode (scheduler_e2e_test.cc, model_serving_e2e_test.cc): a scheduler on its own
// data directory, workers started by node id (data-center nodes, and vehicles whose
// eligibility comes from state files), jobs submitted over the Scheduler gRPC API and
// followed with GetJob. The including test target defines the binaries' and configs' paths
// (COSCHED_WORKER_BINARY, COSCHED_SCHEDULER_BINARY, COSCHED_SCHEDULER_CONFIG,
// COSCHED_TEST_JOB).
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/subprocess.h"
#include "common/tls/dev_pki.h"
#include "nlohmann/json.hpp"
#include "proto/scheduler.grpc.pb.h"
#include "tools/standalone_job.h"

namespace cosched {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The test job (configs/jobs/test-short.yaml) with its worker range and length replaced.
inline std::string TestJob(int min_workers, int max_workers, int steps) {
  std::string yaml = ReadFile(COSCHED_TEST_JOB);
  yaml = absl::StrReplaceAll(
      yaml, {{"    min: 1\n    max: 4\n",
              absl::StrCat("    min: ", min_workers, "\n    max: ", max_workers, "\n")},
             {"    steps: 400\n", absl::StrCat("    steps: ", steps, "\n")}});
  return yaml;
}

inline void WriteVehicleState(const std::string& path, bool eligible) {
  std::ofstream(path + ".tmp") << "{parked: " << (eligible ? "true" : "false")
                               << ", plugged_in: true, battery: 0.9, unmetered_link: true}\n";
  std::filesystem::rename(path + ".tmp", path);
}

class SchedulerCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/scheduler_e2e_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // Everything runs over mutual TLS, as in production.
    absl::StatusOr<tls::DevelopmentPki> pki = tls::DevelopmentPki::Create(dir_ + "/certs");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_.emplace(*std::move(pki));
    StartScheduler("127.0.0.1:0");
  }
  // Reads the scheduler's output (scheduler_logs_to_stdout_) until a line holds `text`;
  // returns that line, or "" when none came within `timeout`.
  std::string SchedulerLogLine(const std::string& text,
                               absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      absl::StatusOr<std::string> line = scheduler_->ReadLine(deadline);
      if (!line.ok()) return "";
      if (line->find(text) != std::string::npos) return *line;
    }
  }
  // Node `node_id`'s certificate files (issued on first use).
  tls::TlsFlags NodeFiles(const std::string& node_id, const std::string& kind = "datacenter") {
    absl::StatusOr<tls::TlsFlags> files = pki_->Node(node_id, kind);
    EXPECT_TRUE(files.ok()) << files.status();
    return files.value_or(tls::TlsFlags{});
  }
  // Client `name`'s certificate files, with `role` (issued on first use).
  tls::TlsFlags ClientFiles(const std::string& name, tls::Role role) {
    absl::StatusOr<tls::TlsFlags> files = pki_->Client(name, role);
    EXPECT_TRUE(files.ok()) << files.status();
    return files.value_or(tls::TlsFlags{});
  }
  // The flags that give node `node_id` its certificate.
  std::vector<std::string> NodeTlsArgs(const std::string& node_id, const std::string& kind) {
    return tls::DevelopmentPki::Args(NodeFiles(node_id, kind));
  }
  // coschedctl's flags for a client's certificate, the admin's by default.
  std::vector<std::string> ClientTlsArgs(const std::string& name = "admin",
                                         tls::Role role = tls::Role::kAdmin) {
    return tls::DevelopmentPki::Args(ClientFiles(name, role));
  }
  // A channel to the scheduler as client `name` in `role`, the admin by default.
  std::shared_ptr<grpc::Channel> ClientChannel(const std::string& name = "admin",
                                               tls::Role role = tls::Role::kAdmin) {
    return grpc::CreateChannel(address_, tls::SchedulerChannelCredentials(ClientFiles(name, role)));
  }
  std::unique_ptr<cosched::v1::Scheduler::Stub> ClientStub(const std::string& name,
                                                           tls::Role role) {
    return cosched::v1::Scheduler::NewStub(ClientChannel(name, role));
  }
  // Starts cosched-scheduler on `listen` with this test's data directory.
  void StartScheduler(const std::string& listen,
                      const std::string& config = COSCHED_SCHEDULER_CONFIG) {
    std::vector<std::string> argv = {COSCHED_SCHEDULER_BINARY,
                                     "--listen",
                                     listen,
                                     "--config",
                                     config,
                                     "--data-dir",
                                     dir_ + "/data",
                                     "--metrics-address",
                                     "127.0.0.1:0",
                                     "--log-level",
                                     "warn"};
    const std::vector<std::string> tls_args = tls::DevelopmentPki::Args(pki_->Scheduler());
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    argv.insert(argv.end(), scheduler_extra_args_.begin(), scheduler_extra_args_.end());
    Subprocess::Options options;
    options.merge_stderr = scheduler_logs_to_stdout_;
    auto scheduler = Subprocess::Spawn(argv, options);
    ASSERT_TRUE(scheduler.ok()) << scheduler.status();
    scheduler_ = *std::move(scheduler);
    auto started =
        tools::AwaitEvent(*scheduler_, "scheduler_ready", absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(started.ok()) << started.status();
    const nlohmann::json& ready = *started;
    address_ = ready.value("address", "");
    jobs_recovered_ = ready.value("jobs_recovered", -1);
    metrics_port_ = ready.value("metrics_port", 0);
    stub_ = ClientStub("admin", tls::Role::kAdmin);
  }
  // Restarts the scheduler on configs/scheduler.yaml with `edits` (text, replacement) made.
  void RestartSchedulerWith(const std::map<std::string, std::string>& edits) {
    std::string config = ReadFile(COSCHED_SCHEDULER_CONFIG);
    for (const auto& [text, replacement] : edits) {
      const size_t at = config.find(text);
      ASSERT_NE(at, std::string::npos) << "configs/scheduler.yaml no longer has '" << text << "'";
      config.replace(at, text.size(), replacement);
    }
    const std::string path = dir_ + "/scheduler.yaml";
    std::ofstream(path) << config;
    scheduler_.reset();
    StartScheduler("127.0.0.1:0", path);
  }
  // Sends `n` requests with a 1 ms deadline, which no node can meet: inference demand.
  // Returns how many were refused.
  int SendUnanswerableRequests(int n) {
    int refused = 0;
    for (int i = 0; i < n; ++i) {
      cosched::v1::InferRequest request;
      request.add_images(std::string(784, '\0'));
      request.set_deadline_ms(1);
      grpc::ClientContext context;
      cosched::v1::InferReply reply;
      refused += stub_->Infer(&context, request, &reply).error_code() ==
                 grpc::StatusCode::RESOURCE_EXHAUSTED;
    }
    return refused;
  }
  void TearDown() override {
    workers_.clear();
    scheduler_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // `extra`: more flags, e.g. {"--link-mbps", "20"}.
  void StartWorker(const std::string& node_id, const std::string& kind = "datacenter",
                   const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {COSCHED_WORKER_BINARY, "--scheduler", address_};
    argv.insert(argv.end(), {"--node-id", node_id, "--kind", kind, "--work-dir", dir_ + "/work"});
    const std::vector<std::string> tls_args = NodeTlsArgs(node_id, kind);
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    // Warnings only, unless the environment sets the workers' level (COSCHED_LOG_LEVEL, the
    // stand-in for --log-level, which children inherit): COSCHED_LOG_LEVEL=info follows a failure.
    if (std::getenv("COSCHED_LOG_LEVEL") == nullptr) {
      argv.insert(argv.end(), {"--log-level", "warn"});
    }
    if (kind == "vehicle") {
      argv.push_back("--vehicle-state");
      argv.push_back(VehicleStatePath(node_id));
    }
    auto worker = Subprocess::Spawn(argv);
    ASSERT_TRUE(worker.ok()) << worker.status();
    workers_[node_id] = *std::move(worker);
  }
  // Starts a data-center worker that serves /metrics; returns its port.
  int StartWorkerWithMetrics(const std::string& node_id) {
    std::vector<std::string> argv = {COSCHED_WORKER_BINARY,
                                     "--scheduler",
                                     address_,
                                     "--node-id",
                                     node_id,
                                     "--kind",
                                     "datacenter",
                                     "--work-dir",
                                     dir_ + "/work",
                                     "--metrics-address",
                                     "127.0.0.1:0",
                                     "--log-level",
                                     "warn"};
    const std::vector<std::string> tls_args = NodeTlsArgs(node_id, "datacenter");
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    auto worker = Subprocess::Spawn(argv);
    EXPECT_TRUE(worker.ok()) << worker.status();
    if (!worker.ok()) return 0;
    auto started = tools::AwaitEvent(**worker, "worker_started", absl::Now() + absl::Seconds(30));
    EXPECT_TRUE(started.ok()) << started.status();
    workers_[node_id] = *std::move(worker);
    return started.ok() ? started->value("metrics_port", 0) : 0;
  }
  std::string VehicleStatePath(const std::string& node_id) const {
    return dir_ + "/" + node_id + ".yaml";
  }

  std::string Submit(const std::string& yaml) {
    grpc::ClientContext context;
    cosched::v1::SubmitJobRequest request;
    request.set_job_yaml(yaml);
    cosched::v1::SubmitJobReply reply;
    const grpc::Status status = stub_->SubmitJob(&context, request, &reply);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return reply.job_id();
  }
  cosched::v1::JobStatus GetJob(const std::string& id) {
    grpc::ClientContext context;
    cosched::v1::GetJobRequest request;
    request.set_job_id(id);
    cosched::v1::JobStatus reply;
    EXPECT_TRUE(stub_->GetJob(&context, request, &reply).ok());
    return reply;
  }
  // Polls the job until `done` holds or `timeout` passes; returns the last status seen.
  template <typename Predicate>
  cosched::v1::JobStatus WaitFor(const std::string& id, absl::Duration timeout, Predicate done) {
    const absl::Time deadline = absl::Now() + timeout;
    cosched::v1::JobStatus job = GetJob(id);
    while (!done(job) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));  // polling a remote state, not waiting on time
      job = GetJob(id);
    }
    return job;
  }
  // Starts dc-1..dc-3, submits a 1500-step job for 1 to 3 workers and waits until it trains
  // on all three (the caller asserts that it does); returns its id and its status then.
  std::pair<std::string, cosched::v1::JobStatus> JobTrainingOnThreeWorkers() {
    for (const char* node : {"dc-1", "dc-2", "dc-3"}) StartWorker(node);
    const std::string id = Submit(TestJob(1, 3, 1500));
    return {id, WaitFor(id, absl::Minutes(2),
                        [](const auto& j) { return j.members_size() == 3 && j.step() >= 100; })};
  }
  static std::string Events(const cosched::v1::JobStatus& job) {
    std::string out;
    for (const auto& e : job.events()) absl::StrAppend(&out, "\n  ", e.what());
    return out;
  }

  std::string dir_;
  std::optional<tls::DevelopmentPki> pki_;
  std::vector<std::string> scheduler_extra_args_;  // e.g. {"--tokens", FILE}
  // The scheduler's log lines on the stdout the test reads (SchedulerLogShows), not stderr.
  bool scheduler_logs_to_stdout_ = false;
  std::unique_ptr<Subprocess> scheduler_;
  std::string address_;
  int jobs_recovered_ = -1;
  int metrics_port_ = 0;
  std::unique_ptr<cosched::v1::Scheduler::Stub> stub_;
  std::map<std::string, std::unique_ptr<Subprocess>> workers_;
};

}  // namespace cosched
