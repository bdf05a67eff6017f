// File: bench/edge_fleet.cc
#include "bench/edge_fleet.h"

#include <sys/types.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/proc_stat.h"
#include "common/status_macros.h"
#include "common/tls/credentials.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "tests/support/host_cgroup.h"
#include "tests/support/run_command.h"
#include "tools/standalone_job.h"

namespace cosched::bench {
namespace {

constexpr int kSchedulerHost = 0;

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
}

// The CPU time the processes now in `cgroup` have used (user + system, from /proc). Read
// from the processes, not the cgroup: with cgroup v1 the cpu controller, where the hosts'
// quotas are, keeps no usage (cpuacct is a hierarchy of its own). The hosts' processes live
// through a run, so a difference of two readings is the run's CPU.
double CgroupCpuSeconds(const std::string& cgroup) {
  double seconds = 0;
  for (const pid_t pid : testing::CgroupProcesses(cgroup)) {
    const std::optional<ProcStat> stat = ReadProcStat(absl::StrCat("/proc/", pid, "/stat"));
    if (stat.has_value()) seconds += stat->cpu_seconds;  // else the process is gone
  }
  return seconds;
}

// Bytes sent plus received on interface eth0 of network namespace `netns`.
absl::StatusOr<int64_t> LinkBytes(const std::string& netns) {
  ASSIGN_OR_RETURN(const std::string out,
                   testing::RunCommand({"ip", "-n", netns, "-s", "-j", "link", "show", "eth0"}));
  const nlohmann::json links = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (!links.is_array() || links.empty() || !links[0].contains("stats64")) {
    return absl::DataLossError(absl::StrCat("no link statistics for eth0 in ", netns, ": ", out));
  }
  const nlohmann::json& stats = links[0]["stats64"];
  return stats["rx"].value("bytes", int64_t{0}) + stats["tx"].value("bytes", int64_t{0});
}

}  // namespace

absl::StatusOr<std::unique_ptr<EdgeFleet>> EdgeFleet::Start(const EdgeFleetOptions& options) {
  std::vector<testing::HostSpec> specs = {{.name = "sched"}};
  for (int i = 1; i <= options.datacenter; ++i) {
    specs.push_back({.name = absl::StrCat("dc", i), .cpu_fraction = options.datacenter_cpu});
  }
  for (int i = 1; i <= options.vehicles; ++i) {
    specs.push_back({.name = absl::StrCat("car", i),
                     .link_mbit = options.vehicle_link_mbit,
                     .cpu_fraction = options.vehicle_cpu});
  }
  std::unique_ptr<EdgeFleet> fleet(new EdgeFleet(options));
  std::filesystem::create_directories(options.work_dir);
  ASSIGN_OR_RETURN(tls::DevelopmentPki pki,
                   tls::DevelopmentPki::Create(options.work_dir + "/certs"));
  fleet->pki_.emplace(std::move(pki));
  ASSIGN_OR_RETURN(fleet->hosts_, testing::TestHosts::Create(std::move(specs)));
  RETURN_IF_ERROR(fleet->StartProcesses());
  return fleet;
}

EdgeFleet::~EdgeFleet() {
  stub_.reset();
  workers_.clear();  // their destructors kill and reap them
  scheduler_.reset();
  tunnel_.reset();  // its sockets would keep the scheduler host's namespace alive
  hosts_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(options_.work_dir, ignored);
}

absl::Status EdgeFleet::StartProcesses() {
  std::vector<std::string> scheduler_argv = {tools::SiblingBinary("cosched-scheduler"),
                                             "--listen",
                                             absl::StrCat(hosts_->address(kSchedulerHost), ":0"),
                                             "--config",
                                             options_.scheduler_config,
                                             "--data-dir",
                                             options_.work_dir + "/scheduler",
                                             "--log-level",
                                             "warn"};
  const std::vector<std::string> scheduler_tls = tls::DevelopmentPki::Args(pki_->Scheduler());
  scheduler_argv.insert(scheduler_argv.end(), scheduler_tls.begin(), scheduler_tls.end());
  ASSIGN_OR_RETURN(scheduler_, hosts_->Spawn(kSchedulerHost, scheduler_argv));
  ASSIGN_OR_RETURN(const nlohmann::json ready, tools::AwaitEvent(*scheduler_, "scheduler_ready",
                                                                 absl::Now() + absl::Seconds(30)));
  scheduler_address_ = ready.value("address", "");
  ASSIGN_OR_RETURN(tunnel_, testing::HostTunnel::Open(*hosts_, kSchedulerHost, scheduler_address_));
  for (int host = 1; host < hosts_->size(); ++host) {
    const std::string& node = hosts_->name(host);
    const bool vehicle = absl::StartsWith(node, "car");
    std::vector<std::string> argv = {tools::SiblingBinary("cosched-worker"),
                                     "--scheduler",
                                     scheduler_address_,
                                     "--node-id",
                                     node,
                                     "--work-dir",
                                     absl::StrCat(options_.work_dir, "/work-", node),
                                     "--log-level",
                                     "warn"};
    ASSIGN_OR_RETURN(const tls::TlsFlags node_tls,
                     pki_->Node(node, vehicle ? "vehicle" : "datacenter"));
    const std::vector<std::string> tls_args = tls::DevelopmentPki::Args(node_tls);
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    if (vehicle) {
      // Parked and plugged in for the whole run: the benchmark compares ways of training,
      // not churn.
      const std::string state = absl::StrCat(options_.work_dir, "/", node, ".yaml");
      std::ofstream(state) << "{parked: true, plugged_in: true, battery: 0.9, "
                              "unmetered_link: true}\n";
      argv.insert(argv.end(), {"--kind", "vehicle", "--vehicle-state", state, "--link-mbps",
                               absl::StrCat(options_.vehicle_link_mbit)});
    } else {
      argv.insert(argv.end(), {"--kind", "datacenter"});
    }
    ASSIGN_OR_RETURN(std::unique_ptr<Subprocess> worker, hosts_->Spawn(host, argv));
    workers_.push_back(std::move(worker));
  }
  // Every worker registered and ready before the clock of a run starts.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int ready_nodes = 0;
  while (absl::Now() < deadline) {
    ASSIGN_OR_RETURN(cosched::v1::Scheduler::Stub* const stub, Stub());
    grpc::ClientContext context;
    SetDeadline(&context);
    cosched::v1::ListNodesReply nodes;
    if (stub->ListNodes(&context, cosched::v1::ListNodesRequest(), &nodes).ok()) {
      ready_nodes = 0;
      for (const auto& node : nodes.nodes()) ready_nodes += node.state() == "ready";
      if (ready_nodes == hosts_->size() - 1) return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(100));  // polling the scheduler's state
  }
  return absl::DeadlineExceededError(
      absl::StrCat(ready_nodes, " of ", hosts_->size() - 1, " workers registered within 60 s"));
}

absl::StatusOr<cosched::v1::Scheduler::Stub*> EdgeFleet::Stub() {
  if (stub_ == nullptr) {
    ASSIGN_OR_RETURN(const tls::TlsFlags admin, pki_->Client("admin", tls::Role::kAdmin));
    stub_ = cosched::v1::Scheduler::NewStub(
        grpc::CreateChannel(tunnel_->address(), tls::SchedulerChannelCredentials(admin)));
  }
  return stub_.get();
}

absl::StatusOr<std::string> EdgeFleet::Submit(const std::string& job_yaml) {
  ASSIGN_OR_RETURN(cosched::v1::Scheduler::Stub* const stub, Stub());
  grpc::ClientContext context;
  SetDeadline(&context);
  cosched::v1::SubmitJobRequest request;
  request.set_job_yaml(job_yaml);
  cosched::v1::SubmitJobReply reply;
  RETURN_IF_ERROR(FromGrpcStatus(stub->SubmitJob(&context, request, &reply)));
  return reply.job_id();
}

absl::StatusOr<cosched::v1::JobStatus> EdgeFleet::GetJob(const std::string& job_id) {
  ASSIGN_OR_RETURN(cosched::v1::Scheduler::Stub* const stub, Stub());
  grpc::ClientContext context;
  SetDeadline(&context);
  cosched::v1::GetJobRequest request;
  request.set_job_id(job_id);
  cosched::v1::JobStatus reply;
  RETURN_IF_ERROR(FromGrpcStatus(stub->GetJob(&context, request, &reply)));
  return reply;
}

absl::StatusOr<VehicleCounters> EdgeFleet::ReadVehicleCounters() const {
  VehicleCounters counters;
  for (int host = 1 + options_.datacenter; host < hosts_->size(); ++host) {
    ASSIGN_OR_RETURN(const int64_t bytes, LinkBytes(hosts_->netns(host)));
    counters.link_bytes += bytes;
    counters.cpu_seconds += CgroupCpuSeconds(hosts_->cgroup(host));
  }
  return counters;
}

}  // namespace cosched::bench
