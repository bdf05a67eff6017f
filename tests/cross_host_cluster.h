// File: tests/cross_host_cluster.h
// The fixture of the tests that run cosched across emulated hosts (tests/support/
// test_hosts.h): the scheduler in its own host, workers in theirs, the test talking to the
// scheduler over connections made inside the scheduler's host. cross_host_test.cc and
// edge_tier_hosts_test.cc build on it; the including target defines COSCHED_WORKER_BINARY,
// COSCHED_SCHEDULER_BINARY, COSCHED_SCHEDULER_CONFIG and COSCHED_TEST_JOB.
//
// Everything speaks mutual TLS, as in production: the test's certificates (a CA, the
// scheduler's, one per node, the admin client's) live in its directory, on the filesystem all
// hosts share.
//
// How the test talks to the scheduler: this process stays in the machine's own network
// namespace, where no host address exists. Each RPC goes over a fresh channel (its own TCP
// connection and TLS handshake) to a HostTunnel (tests/support/host_tunnel.h) on this
// process's loopback, which makes the matching connection inside the scheduler's host and
// copies the bytes (gRPC cannot run TLS over a descriptor made elsewhere). No thread of this
// process, gRPC's own included, stays in another namespace, the replies are typed protos as
// in scheduler_e2e_test, the test authenticates as the admin client, and a restarted
// scheduler is simply the next connection. (Running coschedctl inside the host for every poll
// would cost a process, a parse and a namespace entry per call.)
#pragma once

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "common/tls/dev_pki.h"
#include "nlohmann/json.hpp"
#include "proto/scheduler.grpc.pb.h"
#include "tests/support/host_tunnel.h"
#include "tests/support/scoped_dir.h"
#include "tests/support/test_hosts.h"
#include "tools/standalone_job.h"

namespace cosched {

using ::cosched::testing::HostSpec;
using ::cosched::testing::HostTunnel;
using ::cosched::testing::ScopedDir;
using ::cosched::testing::TestHosts;
using ::testing::HasSubstr;

// Host indexes of the cluster the scheduler tests build (StartCluster).
constexpr int kSched = 0;
constexpr int kDc1 = 1;
constexpr int kDc2 = 2;
constexpr int kCar1 = 3;
constexpr int kCar2 = 4;
constexpr double kVehicleLinkMbit = 20;

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The test job (configs/jobs/test-short.yaml) with its worker range and length replaced,
// reporting progress every 5 steps (the scheduler's view of the step moves only then).
inline std::string TestJob(int min_workers, int max_workers, int steps) {
  const std::string original = ReadFile(COSCHED_TEST_JOB);
  const std::string yaml = absl::StrReplaceAll(
      original, {{"    min: 1\n    max: 4\n",
                  absl::StrCat("    min: ", min_workers, "\n    max: ", max_workers, "\n")},
                 {"    steps: 400\n", absl::StrCat("    steps: ", steps, "\n")},
                 {"    log_every_steps: 50\n", "    log_every_steps: 5\n"}});
  EXPECT_THAT(yaml, HasSubstr(absl::StrCat("    steps: ", steps, "\n")))
      << COSCHED_TEST_JOB << " changed";
  EXPECT_THAT(yaml, HasSubstr(absl::StrCat("    max: ", max_workers, "\n")))
      << COSCHED_TEST_JOB << " changed";
  EXPECT_THAT(yaml, HasSubstr("    log_every_steps: 5\n")) << COSCHED_TEST_JOB << " changed";
  return yaml;
}

inline void WriteVehicleState(const std::string& path, bool eligible) {
  std::ofstream(path + ".tmp") << "{parked: " << (eligible ? "true" : "false")
                               << ", plugged_in: true, battery: 0.9, unmetered_link: true}\n";
  std::filesystem::rename(path + ".tmp", path);
}

inline bool Finished(const cosched::v1::JobStatus& job) {
  return job.state() == "succeeded" || job.state() == "failed" || job.state() == "cancelled";
}

inline std::string Events(const cosched::v1::JobStatus& job) {
  std::string out = absl::StrCat("state ", job.state(), ", generation ", job.generation(),
                                 ", step ", job.step(), ", failures ", job.failures());
  for (const auto& e : job.events()) absl::StrAppend(&out, "\n  ", e.what());
  return out;
}

// Whether `address` lies in `subnet`, a "a.b.c.0/24".
inline bool InSubnet(const std::string& address, const std::string& subnet) {
  const std::string network = subnet.substr(0, subnet.find('/'));
  return absl::EndsWith(subnet, "/24") &&
         absl::StartsWith(address, network.substr(0, network.rfind('.') + 1));
}

class CrossHostCluster : public ::testing::Test {
 protected:
  CrossHostCluster()
      : dir_(absl::StrCat("cross_host_",
                          ::testing::UnitTest::GetInstance()->current_test_info()->name())) {}
  void SetUp() override {
    COSCHED_REQUIRE_TEST_HOSTS();
    absl::StatusOr<tls::DevelopmentPki> pki = tls::DevelopmentPki::Create(dir_.path() + "/certs");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_.emplace(*std::move(pki));
    absl::StatusOr<tls::TlsFlags> admin = pki_->Client("admin", tls::Role::kAdmin);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_credentials_ = tls::SchedulerChannelCredentials(*admin);
  }
  // Processes first, then the tunnel (its sockets keep the scheduler's host alive), then the
  // hosts (which kill whatever still runs in them), then dir_.
  void TearDown() override {
    workers_.clear();
    scheduler_.reset();
    tunnel_.reset();
    hosts_.reset();
  }

  void CreateHosts(std::vector<HostSpec> specs) {
    auto hosts = TestHosts::Create(std::move(specs));
    ASSERT_TRUE(hosts.ok()) << hosts.status();
    hosts_ = *std::move(hosts);
  }

  // The scheduler on "sched", data-center workers on "dc1" and "dc2", vehicles (parked and
  // plugged in) on "car1" and "car2" with shaped links; returns once all four are ready.
  void StartCluster() {
    ASSERT_NO_FATAL_FAILURE(CreateHosts({{.name = "sched"},
                                         {.name = "dc1"},
                                         {.name = "dc2"},
                                         {.name = "car1", .link_mbit = kVehicleLinkMbit},
                                         {.name = "car2", .link_mbit = kVehicleLinkMbit}}));
    ASSERT_NO_FATAL_FAILURE(StartScheduler(absl::StrCat(hosts_->address(kSched), ":0")));
    for (const int host : {kDc1, kDc2, kCar1, kCar2}) ASSERT_NO_FATAL_FAILURE(StartWorker(host));
    for (const int host : {kDc1, kDc2, kCar1, kCar2}) {
      const std::string& node = hosts_->name(host);
      auto started =
          tools::AwaitEvent(*workers_[node], "worker_started", absl::Now() + absl::Seconds(30));
      ASSERT_TRUE(started.ok()) << node << ": " << started.status();
      advertised_[node] = started->value("advertise_address", "");
    }
    // Submit only once every node is ready, so the job is placed on all four at once.
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    int ready = 0;
    while (absl::Now() < deadline) {
      ready = 0;
      if (auto nodes = ListNodes(); nodes.ok()) {
        for (const auto& node : nodes->nodes()) ready += node.state() == "ready";
      }
      if (ready == 4) break;
      absl::SleepFor(absl::Milliseconds(100));  // polling another process's state
    }
    ASSERT_EQ(ready, 4) << "nodes ready at the scheduler";
  }

  // Starts cosched-scheduler in its host listening on `listen` with this test's data dir and
  // the scheduler's certificate.
  void StartScheduler(const std::string& listen) {
    std::vector<std::string> argv = {COSCHED_SCHEDULER_BINARY,
                                     "--listen",
                                     listen,
                                     "--config",
                                     COSCHED_SCHEDULER_CONFIG,
                                     "--data-dir",
                                     dir_.path() + "/data",
                                     "--log-level",
                                     "warn"};
    const std::vector<std::string> tls_args = tls::DevelopmentPki::Args(pki_->Scheduler());
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    auto scheduler = hosts_->Spawn(kSched, argv);
    ASSERT_TRUE(scheduler.ok()) << scheduler.status();
    scheduler_ = *std::move(scheduler);
    auto ready = tools::AwaitEvent(*scheduler_, "scheduler_ready", absl::Now() + absl::Seconds(30));
    ASSERT_TRUE(ready.ok()) << ready.status();
    scheduler_address_ = ready->value("address", "");
    jobs_recovered_ = ready->value("jobs_recovered", -1);
    ASSERT_TRUE(absl::StartsWith(scheduler_address_, hosts_->address(kSched) + ":"))
        << scheduler_address_;
    if (tunnel_ == nullptr || tunnel_->target() != scheduler_address_) {
      tunnel_.reset();
      auto tunnel = HostTunnel::Open(*hosts_, kSched, scheduler_address_);
      ASSERT_TRUE(tunnel.ok()) << tunnel.status();
      tunnel_ = *std::move(tunnel);
    }
  }

  // The flags that give node `node` (a host's name) of `kind` its certificate.
  std::vector<std::string> NodeTlsArgs(const std::string& node, const std::string& kind) {
    absl::StatusOr<tls::TlsFlags> files = pki_->Node(node, kind);
    EXPECT_TRUE(files.ok()) << files.status();
    return files.ok() ? tls::DevelopmentPki::Args(*files) : std::vector<std::string>{};
  }

  // A worker in scheduler mode in host `host`; its node id is the host's name. No
  // --advertise-address and no --host-id: it finds both itself.
  // Hosts named car* are vehicles (parked and plugged in) on kVehicleLinkMbit links; `extra`:
  // more flags.
  void StartWorker(int host, const std::vector<std::string>& extra = {}) {
    const std::string& node = hosts_->name(host);
    const bool vehicle = absl::StartsWith(node, "car");
    std::vector<std::string> argv = {COSCHED_WORKER_BINARY,
                                     "--scheduler",
                                     scheduler_address_,
                                     "--node-id",
                                     node,
                                     "--kind",
                                     vehicle ? "vehicle" : "datacenter",
                                     "--work-dir",
                                     absl::StrCat(dir_.path(), "/work-", node),
                                     "--log-level",
                                     "warn"};
    const std::vector<std::string> tls_args = NodeTlsArgs(node, vehicle ? "vehicle" : "datacenter");
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    if (vehicle) {
      const std::string state = absl::StrCat(dir_.path(), "/", node, ".yaml");
      WriteVehicleState(state, true);
      argv.insert(argv.end(),
                  {"--vehicle-state", state, "--link-mbps", absl::StrCat(kVehicleLinkMbit)});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto worker = hosts_->Spawn(host, argv);
    ASSERT_TRUE(worker.ok()) << worker.status();
    workers_[node] = *std::move(worker);
  }

  // A stub, as the admin client, over a new connection through the tunnel to the scheduler's
  // host (a subchannel of its own: not one another channel left connected to a scheduler
  // since killed).
  absl::StatusOr<std::unique_ptr<cosched::v1::Scheduler::Stub>> Connect() {
    if (tunnel_ == nullptr) return absl::FailedPreconditionError("no scheduler started");
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return cosched::v1::Scheduler::NewStub(
        grpc::CreateCustomChannel(tunnel_->address(), admin_credentials_, args));
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  }

  std::string Submit(const std::string& yaml) {
    auto stub = Connect();
    EXPECT_TRUE(stub.ok()) << stub.status();
    if (!stub.ok()) return "";
    grpc::ClientContext context;
    SetDeadline(&context);
    cosched::v1::SubmitJobRequest request;
    request.set_job_yaml(yaml);
    cosched::v1::SubmitJobReply reply;
    const grpc::Status status = (*stub)->SubmitJob(&context, request, &reply);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return reply.job_id();
  }
  absl::StatusOr<cosched::v1::JobStatus> GetJob(const std::string& id) {
    auto stub = Connect();
    if (!stub.ok()) return stub.status();
    grpc::ClientContext context;
    SetDeadline(&context);
    cosched::v1::GetJobRequest request;
    request.set_job_id(id);
    cosched::v1::JobStatus reply;
    RETURN_IF_ERROR(FromGrpcStatus((*stub)->GetJob(&context, request, &reply)));
    return reply;
  }
  absl::StatusOr<cosched::v1::ListNodesReply> ListNodes() {
    auto stub = Connect();
    if (!stub.ok()) return stub.status();
    grpc::ClientContext context;
    SetDeadline(&context);
    cosched::v1::ListNodesReply reply;
    RETURN_IF_ERROR(
        FromGrpcStatus((*stub)->ListNodes(&context, cosched::v1::ListNodesRequest(), &reply)));
    return reply;
  }
  // Polls the job until `done` holds or `timeout` passes; returns the last status seen (the
  // scheduler may be unreachable for a while: it is being restarted).
  template <typename Predicate>
  cosched::v1::JobStatus WaitFor(const std::string& id, absl::Duration timeout, Predicate done) {
    const absl::Time deadline = absl::Now() + timeout;
    cosched::v1::JobStatus last;
    while (true) {
      absl::StatusOr<cosched::v1::JobStatus> job = GetJob(id);
      if (job.ok()) {
        last = *std::move(job);
        if (done(last)) break;
      }
      if (absl::Now() >= deadline) break;
      absl::SleepFor(absl::Milliseconds(200));  // polling a remote state, not waiting on time
    }
    return last;
  }

  ScopedDir dir_;
  std::optional<tls::DevelopmentPki> pki_;  // in dir_/certs
  std::shared_ptr<grpc::ChannelCredentials> admin_credentials_;
  std::unique_ptr<TestHosts> hosts_;
  std::unique_ptr<HostTunnel> tunnel_;  // to the scheduler, from this process's loopback
  std::unique_ptr<Subprocess> scheduler_;
  std::string scheduler_address_;
  int jobs_recovered_ = -1;
  std::map<std::string, std::unique_ptr<Subprocess>> workers_;  // by node id (= host name)
  std::map<std::string, std::string> advertised_;               // node id -> advertise address
};

}  // namespace cosched
