// File: bench/edge_fleet.h
// EdgeFleet: one run of `cosched-bench edge` (bench/edge_bench.h) on emulated hosts
// (tests/support/test_hosts.h): a scheduler host, data-center hosts and vehicle hosts, each
// with a CPU quota, the vehicles behind shaped links; the real cosched-scheduler and
// cosched-worker processes in them, speaking mutual TLS with certificates made for the run
// (work_dir/certs). It submits a job, follows it through the scheduler's client API as the
// admin client (through a HostTunnel into the scheduler's host: this process is not on the
// hosts' network), and measures what crossed the vehicles' links (their interface counters)
// and how much CPU the vehicles used (their cgroups).
//
// The hosts, processes and files live as long as the object.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls/dev_pki.h"
#include "proto/scheduler.grpc.pb.h"
#include "tests/support/host_tunnel.h"
#include "tests/support/test_hosts.h"

namespace cosched::bench {

struct EdgeFleetOptions {
  int datacenter = 2;             // data-center hosts, each running one worker
  int vehicles = 4;               // vehicle hosts; 0 for none
  double datacenter_cpu = 0.5;    // CPU quota of a data-center host (cores)
  double vehicle_cpu = 0.2;       // CPU quota of a vehicle host
  double vehicle_link_mbit = 20;  // each vehicle's link, both directions
  std::string scheduler_config;   // configs/scheduler.yaml
  std::string work_dir;           // scratch space (created; removed with the object)
};

// What the vehicles' hosts measured, summed over vehicles.
struct VehicleCounters {
  int64_t link_bytes = 0;  // sent and received on their links
  double cpu_seconds = 0;  // used by everything in their hosts
};

class EdgeFleet {
 public:
  // Creates the hosts and starts the scheduler and a worker on every host; returns once every
  // worker is registered. FailedPrecondition when emulated hosts cannot work here (not root).
  static absl::StatusOr<std::unique_ptr<EdgeFleet>> Start(const EdgeFleetOptions& options);
  ~EdgeFleet();

  absl::StatusOr<std::string> Submit(const std::string& job_yaml);
  absl::StatusOr<cosched::v1::JobStatus> GetJob(const std::string& job_id);
  absl::StatusOr<VehicleCounters> ReadVehicleCounters() const;

 private:
  explicit EdgeFleet(EdgeFleetOptions options) : options_(std::move(options)) {}
  absl::Status StartProcesses();
  // The client stub every call after start-up shares (one connection, not one per poll).
  absl::StatusOr<cosched::v1::Scheduler::Stub*> Stub();

  const EdgeFleetOptions options_;
  std::optional<tls::DevelopmentPki> pki_;
  std::unique_ptr<testing::TestHosts> hosts_;
  std::unique_ptr<Subprocess> scheduler_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
  std::string scheduler_address_;
  std::unique_ptr<testing::HostTunnel> tunnel_;  // to the scheduler, from this process
  std::unique_ptr<cosched::v1::Scheduler::Stub> stub_;
};

}  // namespace cosched::bench
