// File: bench/edge_fleet.cc
#include "bench/edge_fleet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "grpcpp/create_channel_posix.h"
#include "nlohmann/json.hpp"
#include "tests/support/host_cgroup.h"
#include "tests/support/run_command.h"
#include "tools/standalone_job.h"

namespace cosched::bench {
namespace {

constexpr int kSchedulerHost = 0;

absl::Status FromGrpc(const grpc::Status& status) {
  return status.ok() ? absl::OkStatus()
                     : absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                    status.error_message());
}

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
}

// The CPU time the processes now in `cgroup` have used (user + system, from /proc). Read
// from the processes, not the cgroup: with cgroup v1 the cpu controller, where the hosts'
// quotas are, keeps no usage (cpuacct is a hierarchy of its own). The hosts' processes live
// through a run, so a difference of two readings is the run's CPU.
double CgroupCpuSeconds(const std::string& cgroup) {
  const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double seconds = 0;
  for (const pid_t pid : testing::CgroupProcesses(cgroup)) {
    std::ifstream file(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    // Fields after the command name, which is in parentheses and may hold spaces: state is
    // field 3, utime 14 and stime 15.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;  // the process is gone
    std::istringstream rest(stat.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int index = 3; index <= 15 && rest >> field; ++index) {
      if (index == 14) absl::SimpleAtod(field, &utime);
      if (index == 15) absl::SimpleAtod(field, &stime);
    }
    seconds += (utime + stime) / ticks_per_second;
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
  ASSIGN_OR_RETURN(fleet->hosts_, testing::TestHosts::Create(std::move(specs)));
  RETURN_IF_ERROR(fleet->StartProcesses());
  return fleet;
}

EdgeFleet::~EdgeFleet() {
  stub_.reset();     // its socket would keep the scheduler host's namespace alive
  workers_.clear();  // their destructors kill and reap them
  scheduler_.reset();
  hosts_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(options_.work_dir, ignored);
}

absl::Status EdgeFleet::StartProcesses() {
  ASSIGN_OR_RETURN(
      scheduler_,
      hosts_->Spawn(kSchedulerHost, {tools::SiblingBinary("cosched-scheduler"), "--listen",
                                     absl::StrCat(hosts_->address(kSchedulerHost), ":0"),
                                     "--config", options_.scheduler_config, "--data-dir",
                                     options_.work_dir + "/scheduler", "--log-level", "warn"}));
  ASSIGN_OR_RETURN(const nlohmann::json ready, tools::AwaitEvent(*scheduler_, "scheduler_ready",
                                                                 absl::Now() + absl::Seconds(30)));
  scheduler_address_ = ready.value("address", "");
  for (int host = 1; host < hosts_->size(); ++host) {
    const std::string& node = hosts_->name(host);
    std::vector<std::string> argv = {tools::SiblingBinary("cosched-worker"),
                                     "--scheduler",
                                     scheduler_address_,
                                     "--node-id",
                                     node,
                                     "--work-dir",
                                     absl::StrCat(options_.work_dir, "/work-", node),
                                     "--log-level",
                                     "warn"};
    if (absl::StartsWith(node, "car")) {
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

absl::StatusOr<std::unique_ptr<cosched::v1::Scheduler::Stub>> EdgeFleet::Connect() {
  const size_t colon = scheduler_address_.rfind(':');
  int port = 0;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(scheduler_address_.substr(colon + 1), &port)) {
    return absl::InternalError(absl::StrCat("bad scheduler address '", scheduler_address_, "'"));
  }
  ASSIGN_OR_RETURN(const int fd, hosts_->OpenSocket(kSchedulerHost, SOCK_STREAM));
  const timeval timeout{5, 0};  // bounds connect() too
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, scheduler_address_.substr(0, colon).c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int error = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("connect to ", scheduler_address_, ": ", std::strerror(error)));
  }
  // The channel owns the descriptor from here on.
  return cosched::v1::Scheduler::NewStub(grpc::CreateInsecureChannelFromFd(scheduler_address_, fd));
}

absl::StatusOr<cosched::v1::Scheduler::Stub*> EdgeFleet::Stub() {
  if (stub_ == nullptr) {
    ASSIGN_OR_RETURN(stub_, Connect());
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
  RETURN_IF_ERROR(FromGrpc(stub->SubmitJob(&context, request, &reply)));
  return reply.job_id();
}

absl::StatusOr<cosched::v1::JobStatus> EdgeFleet::GetJob(const std::string& job_id) {
  ASSIGN_OR_RETURN(cosched::v1::Scheduler::Stub* const stub, Stub());
  grpc::ClientContext context;
  SetDeadline(&context);
  cosched::v1::GetJobRequest request;
  request.set_job_id(job_id);
  cosched::v1::JobStatus reply;
  RETURN_IF_ERROR(FromGrpc(stub->GetJob(&context, request, &reply)));
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
