// File: worker/main.cc
// cosched-worker: trains a job's rank and serves inference on it.
//
//   Standalone, under MPI:  mpirun -np 2 cosched-worker --standalone --job JOB.yaml
//   Standalone, no MPI:     cosched-worker --standalone --job JOB.yaml --bootstrap file:DIR
//                           --rank R --world N
//   Under a scheduler:      cosched-worker --scheduler HOST:PORT --node-id ID
//                           [--kind datacenter|vehicle --vehicle-state FILE]
//                           [--health-address HOST:PORT]   grpc.health.v1 for probes
//   SIGTERM under a scheduler drains: the scheduler takes the node out of its job, which
//   re-forms without it; the worker leaves at a step boundary and exits 0.
// Progress goes to stdout on rank 0 (human lines, then one {"event":"job_finished",...} JSON
// line at the end; other ranks print "rank_finished"; both name the address the rank
// advertised to its peers); every rank prints one JSON line {"event":"inference_ready",...}
// when it serves inference. Logs go to stderr. Every flag may also come from COSCHED_<FLAG> in the
// environment.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "collectives/file_liveness.h"
#include "collectives/file_store.h"
#include "collectives/gloo_group.h"
#include "collectives/mpi_bootstrap.h"
#include "common/cpu_affinity.h"
#include "common/cpu_time.h"
#include "common/flags.h"
#include "common/host_memory.h"
#include "common/job_config.h"
#include "common/local_address.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/termination_signals.h"
#include "common/tls/credentials.h"
#include "common/units.h"
#include "nlohmann/json.hpp"
#include "worker/agent/agent.h"
#include "worker/agent/health_server.h"
#include "worker/inference/inference_engine.h"
#include "worker/inference/inference_service.h"
#include "worker/trainer/trainer.h"
#include "worker/worker_metrics.h"

namespace cosched::worker {
namespace {

using nlohmann::json;

struct WorkerFlags {
  tls::TlsFlags tls;  // scheduler mode: the node's certificate, the CA
  bool standalone = false;
  std::string job;
  std::string bootstrap;  // file:DIR or mpi; default mpi under mpirun
  int64_t rank = 0;
  int64_t world = 1;
  std::string inference_address = "127.0.0.1:0";
  std::string metrics_address;
  std::string log_level = "info";
  std::string bind_cpus;       // CPU list this process runs on; empty: the OS decides
  std::string checkpoint_dir;  // overrides the job's checkpoint.dir when set
  int64_t steps = 0;           // when > 0, overrides the job's length with this many steps
  // Under a scheduler:
  std::string scheduler;  // HOST:PORT of cosched-scheduler
  std::string kind = "datacenter";
  std::string node_id;
  std::string vehicle_state;
  int64_t cpus = 1;
  std::string link_mbps = "1000";
  std::string zone = "local";
  std::string work_dir = "/tmp/cosched-worker";
  std::string memory;  // byte size offered to jobs; empty: what this host (or cgroup) has
  // Where this rank's gloo peers reach it. Empty: the address of the route to the scheduler
  // (scheduler mode), of --collectives-interface, or of the default route (standalone).
  std::string advertise_address;
  std::string collectives_interface;
  std::string host_id;         // ranks with the same host id share memory; empty: this machine's
  std::string health_address;  // HOST:PORT of grpc.health.v1 (scheduler mode); empty: none
  std::string drain_timeout = "30s";  // SIGTERM: how long to wait for the scheduler's revocation
};

// The address this rank advertises to its peers: an explicit --advertise-address, else the
// interface named by --collectives-interface, else the local address of the route to the
// scheduler, else (standalone) the default route's interface, else loopback (one host).
absl::StatusOr<std::string> ChooseAdvertiseAddress(const WorkerFlags& flags) {
  if (!flags.advertise_address.empty()) return flags.advertise_address;
  if (!flags.collectives_interface.empty()) {
    absl::StatusOr<std::string> address = InterfaceAddress(flags.collectives_interface);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--collectives-interface: ", address.status().message()));
    }
    return address;
  }
  if (!flags.scheduler.empty()) {
    absl::StatusOr<std::string> address = LocalAddressTowards(flags.scheduler);
    if (!address.ok()) {
      return absl::Status(address.status().code(),
                          absl::StrCat("cannot find this worker's address (give "
                                       "--advertise-address): ",
                                       address.status().message()));
    }
    return address;
  }
  absl::StatusOr<std::string> address = DefaultRouteAddress();
  return address.ok() ? *address : std::string("127.0.0.1");
}

void PrintLine(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void PrintProgress(const TrainingProgress& p) {
  switch (p.kind) {
    case TrainingProgress::Kind::kStep:
      PrintLine(absl::StrFormat(
          "epoch %d  step %6d  loss %.4f  %8.0f samples/s  (gen %d, %d ranks)", p.epoch, p.step,
          p.loss, p.samples_per_second, p.generation, p.world_size));
      break;
    case TrainingProgress::Kind::kEpoch:
      PrintLine(absl::StrFormat("epoch %d done at step %d: test accuracy %.4f", p.epoch, p.step,
                                p.test_accuracy));
      break;
    case TrainingProgress::Kind::kMembership:
      PrintLine(absl::StrFormat("membership changed: generation %d with %d ranks, step %d",
                                p.generation, p.world_size, p.step));
      break;
  }
}

absl::Status RunStandalone(const WorkerFlags& flags, int* argc, char*** argv) {
  ASSIGN_OR_RETURN(JobConfig job, LoadJobConfig(flags.job));
  if (!flags.checkpoint_dir.empty()) job.checkpoint_dir = flags.checkpoint_dir;
  if (flags.steps > 0) job.steps = flags.steps;
  ASSIGN_OR_RETURN(const FashionMnist data, LoadFashionMnist(job.data_dir));

  // Bootstrap: who we are and how we form groups.
  std::unique_ptr<collectives::MpiSession> mpi;
  std::unique_ptr<collectives::FileStore> store;
  std::unique_ptr<collectives::FileLiveness> liveness;
  std::unique_ptr<MembershipSource> membership;
  Membership initial;
  GroupFactory create_group;
  const std::string bootstrap =
      flags.bootstrap.empty() && collectives::LaunchedByMpi() ? "mpi" : flags.bootstrap;
  if (bootstrap == "mpi") {
    ASSIGN_OR_RETURN(mpi, collectives::MpiSession::Init(argc, argv));
    initial.rank = mpi->rank();
    initial.world_size = mpi->world_size();
    membership = std::make_unique<NoRecovery>();
    create_group = [&mpi](const collectives::GroupOptions& o) { return mpi->CreateGroup(o); };
  } else if (absl::StartsWith(bootstrap, "file:")) {
    ASSIGN_OR_RETURN(store, collectives::FileStore::Open(bootstrap.substr(5)));
    if (flags.world < 1 || flags.rank < 0 || flags.rank >= flags.world) {
      return absl::InvalidArgumentError(
          absl::StrCat("--rank ", flags.rank, " is not in [0, --world ", flags.world, ")"));
    }
    initial.rank = static_cast<int>(flags.rank);
    initial.world_size = static_cast<int>(flags.world);
    // Announced before the first rendezvous: peers that find this process gone after that
    // stop waiting for it at once.
    liveness = std::make_unique<collectives::FileLiveness>(store.get(), job.name);
    RETURN_IF_ERROR(liveness->Announce(initial.rank));
    membership = std::make_unique<FileStoreMembership>(
        store.get(), job.name, job.collectives.timeout + absl::Seconds(1),
        [&liveness](int process) {
          const absl::StatusOr<bool> ended = liveness->Ended(process);
          if (!ended.ok()) spdlog::warn("{}", ended.status().ToString());
          return ended.value_or(false);  // unknown: the settle window decides
        });
    create_group = [&store](const collectives::GroupOptions& o) {
      collectives::GroupOptions with_store = o;
      with_store.store = store.get();
      return collectives::CreateGroup(with_store);
    };
  } else if (bootstrap.empty()) {
    initial.rank = 0;
    initial.world_size = 1;
    membership = std::make_unique<NoRecovery>();
    create_group = &collectives::CreateGroup;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--bootstrap must be file:DIR or mpi, not '", bootstrap, "'"));
  }
  if (initial.world_size > job.max_workers || initial.world_size < job.min_workers) {
    return absl::InvalidArgumentError(absl::StrCat("world size ", initial.world_size,
                                                   " is outside the job's workers range [",
                                                   job.min_workers, ", ", job.max_workers, "]"));
  }
  initial.new_rank_of_old.clear();
  const bool leader = initial.rank == 0;

  MetricsRegistry registry;
  WorkerMetrics metrics(registry);
  std::unique_ptr<MetricsServer> metrics_server;
  if (!flags.metrics_address.empty()) {
    ASSIGN_OR_RETURN(metrics_server, MetricsServer::Start(flags.metrics_address, registry));
  }
  ComputeToken token;
  ASSIGN_OR_RETURN(const Mlp model,
                   Mlp::Create(job.model.LayerSizes(data.train.pixels_per_image(), 10)));
  AdmissionOptions admission;
  admission.preemption_bound = job.inference.preemption_bound;
  admission.max_queue = static_cast<size_t>(job.inference.max_queue);
  InferenceEngine engine(&model, &token, admission, &metrics);
  ASSIGN_OR_RETURN(auto server, InferenceServer::Start(flags.inference_address, &engine,
                                                       data.train.pixels_per_image(),
                                                       job.inference.default_deadline));
  TrainerOptions options;
  options.job = job;
  options.data = &data;
  options.initial = initial;
  options.create_group = create_group;
  options.membership = membership.get();
  options.token = &token;
  options.inference = &engine;
  options.metrics = &metrics;
  if (leader) options.on_progress = &PrintProgress;
  ASSIGN_OR_RETURN(const std::string advertise_address, ChooseAdvertiseAddress(flags));
  options.advertise_address = advertise_address;
  options.host_id = flags.host_id;
  spdlog::info("rank {} advertises {} to its peers", initial.rank, advertise_address);
  ASSIGN_OR_RETURN(auto trainer, Trainer::Create(std::move(options)));
  const std::string host = flags.inference_address.substr(0, flags.inference_address.rfind(':'));
  PrintLine(json({{"event", "inference_ready"},
                  {"rank", initial.rank},
                  {"address", absl::StrCat(host, ":", server->port())},
                  {"metrics_port", metrics_server ? metrics_server->port() : 0}})
                .dump());

  ASSIGN_OR_RETURN(const TrainingResult result, trainer->Run());
  // One job_finished line per job (rank 0), so `mpirun` output ends with exactly one; the
  // other ranks report rank_finished with the same fields.
  PrintLine(json({{"event", leader ? "job_finished" : "rank_finished"},
                  {"rank", initial.rank},
                  {"advertise_address", advertise_address},
                  {"test_accuracy", result.test_accuracy},
                  {"steps", result.steps},
                  {"epochs", result.epochs},
                  {"samples_per_second", result.samples_per_second},
                  {"wall_seconds", result.wall_seconds},
                  {"generations", result.generations},
                  {"preempted_steps", result.preempted_steps},
                  {"parameter_crc32", result.parameter_checksum},
                  {"trainer_cpu_seconds", result.trainer_cpu_seconds},
                  {"allreduce_seconds", result.allreduce_seconds},
                  {"process_cpu_seconds", ProcessCpuSeconds()}})
                .dump());
  return absl::OkStatus();
}

// The worker under a scheduler: runs the agent until SIGINT or SIGTERM, which drain it: the
// scheduler hears that it goes, its job re-forms without it, and it leaves at a step boundary.
absl::Status RunUnderScheduler(const WorkerFlags& flags) {
  if (flags.node_id.empty()) return absl::InvalidArgumentError("--node-id is required");
  absl::Duration drain_timeout;
  if (!absl::ParseDuration(flags.drain_timeout, &drain_timeout) ||
      drain_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--drain-timeout '", flags.drain_timeout, "' is not a duration such as 30s"));
  }
  if (flags.kind != "datacenter" && flags.kind != "vehicle") {
    return absl::InvalidArgumentError(
        absl::StrCat("--kind '", flags.kind, "' is neither datacenter nor vehicle"));
  }
  if (flags.kind == "vehicle" && flags.vehicle_state.empty()) {
    return absl::InvalidArgumentError("a vehicle needs --vehicle-state FILE");
  }
  RETURN_IF_ERROR(tls::CheckTlsFlags(flags.tls, tls::TlsUse::kNode));
  if (flags.tls.insecure) tls::WarnInsecure("cosched-worker");
  double link_mbps = 0;
  if (!absl::SimpleAtod(flags.link_mbps, &link_mbps) || link_mbps < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--link-mbps '", flags.link_mbps, "' is not a non-negative number"));
  }
  MetricsRegistry registry;
  WorkerMetrics metrics(registry);
  std::unique_ptr<MetricsServer> metrics_server;
  if (!flags.metrics_address.empty()) {
    ASSIGN_OR_RETURN(metrics_server, MetricsServer::Start(flags.metrics_address, registry));
  }
  std::unique_ptr<HealthServer> health;
  if (!flags.health_address.empty()) {
    ASSIGN_OR_RETURN(health, HealthServer::Start(flags.health_address));
  }
  AgentOptions options;
  ASSIGN_OR_RETURN(options.advertise_address, ChooseAdvertiseAddress(flags));
  options.host_id = flags.host_id;
  if (flags.memory.empty()) {
    ASSIGN_OR_RETURN(options.memory_bytes, UsableMemoryBytes());
  } else {
    absl::StatusOr<uint64_t> memory = ParseByteSize(flags.memory);
    if (!memory.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--memory: ", memory.status().message()));
    }
    options.memory_bytes = static_cast<int64_t>(*memory);
  }
  options.scheduler_address = flags.scheduler;
  options.credentials = tls::SchedulerChannelCredentials(flags.tls);
  options.node_id = flags.node_id;
  options.kind = flags.kind;
  options.cpus = static_cast<int>(flags.cpus);
  options.link_mbps = link_mbps;
  options.zone = flags.zone;
  options.vehicle_state_file = flags.vehicle_state;
  options.work_dir = flags.work_dir;
  options.metrics = &metrics;
  Agent agent(options);
  std::thread signals([&agent, &health, drain_timeout] {
    const int signal = WaitForTerminationSignal();
    if (health != nullptr) health->Draining();
    agent.Drain(absl::StrCat("the worker got ", strsignal(signal)), drain_timeout);
  });
  PrintLine(json({{"event", "worker_started"},
                  {"node_id", flags.node_id},
                  {"kind", flags.kind},
                  {"advertise_address", options.advertise_address},
                  {"memory_bytes", options.memory_bytes},
                  {"metrics_port", metrics_server ? metrics_server->port() : 0},
                  {"health_port", health ? health->port() : 0}})
                .dump());
  const absl::Status status = agent.Run();
  // Wake the signal thread if Run ended on its own (its data could not be read).
  ::kill(::getpid(), SIGTERM);
  signals.join();
  return status;
}

int Main(int argc, char** argv) {
  WorkerFlags flags;
  FlagParser parser("cosched-worker");
  parser.Bool("standalone", &flags.standalone, "run one job without a scheduler");
  parser.String("job", &flags.job, "job YAML (standalone)");
  parser.String("bootstrap", &flags.bootstrap, "file:DIR or mpi (default: mpi under mpirun)");
  parser.Int("rank", &flags.rank, "this rank (file bootstrap)");
  parser.Int("world", &flags.world, "number of ranks (file bootstrap)");
  parser.String("inference-address", &flags.inference_address,
                "HOST:PORT for the gRPC inference service (port 0: any)");
  parser.String("metrics-address", &flags.metrics_address, "HOST:PORT serving /metrics");
  parser.String("log-level", &flags.log_level, "trace|debug|info|warn|error");
  parser.String("bind-cpus", &flags.bind_cpus,
                "run only on these CPUs, e.g. 0 or 0-3 (like mpirun --bind-to core)");
  parser.String("checkpoint-dir", &flags.checkpoint_dir, "overrides the job's checkpoint.dir");
  parser.Int("steps", &flags.steps, "when > 0, train this many steps instead of the job's length");
  parser.String("scheduler", &flags.scheduler, "HOST:PORT of cosched-scheduler (scheduler mode)");
  tls::RegisterTlsFlags(parser, &flags.tls);
  parser.String("kind", &flags.kind, "datacenter or vehicle (scheduler mode)");
  parser.String("node-id", &flags.node_id, "this node's id (scheduler mode)");
  parser.String("vehicle-state", &flags.vehicle_state,
                "YAML file with a vehicle's eligibility signals (vehicles)");
  parser.Int("cpus", &flags.cpus, "CPUs this node offers (scheduler mode)");
  parser.String("link-mbps", &flags.link_mbps, "uplink bandwidth in Mb/s (scheduler mode)");
  parser.String("zone", &flags.zone, "failure domain: rack, site or depot (scheduler mode)");
  parser.String("work-dir", &flags.work_dir, "checkpoints of scheduled jobs go under it");
  parser.String("memory", &flags.memory,
                "memory offered to jobs, e.g. 8GiB (default: this host's, or its cgroup limit)");
  parser.String("advertise-address", &flags.advertise_address,
                "address gloo peers reach this rank at (default: the route to the scheduler, "
                "or --collectives-interface, or the default route)");
  parser.String("collectives-interface", &flags.collectives_interface,
                "network interface whose address this rank advertises, e.g. eth0");
  parser.String("host-id", &flags.host_id,
                "ranks with the same host id share memory (default: boot id + host name)");
  parser.String("health-address", &flags.health_address,
                "HOST:PORT serving grpc.health.v1 for probes (scheduler mode; NOT_SERVING "
                "while draining)");
  parser.String("drain-timeout", &flags.drain_timeout,
                "on SIGTERM, how long to wait for the scheduler to take this node out of its "
                "job before leaving it anyway (scheduler mode)");
  if (std::optional<int> exit_code = parser.ParseOrExitCode(argc, argv)) return *exit_code;
  if (!flags.bind_cpus.empty()) {  // before any thread starts, so that all inherit it
    absl::StatusOr<std::vector<int>> cpus = ParseCpuList(flags.bind_cpus);
    absl::Status bound = cpus.ok() ? BindToCpus(*cpus) : cpus.status();
    if (!bound.ok()) {
      std::fprintf(stderr, "cosched-worker: --bind-cpus: %s\n",
                   std::string(bound.message()).c_str());
      return 2;
    }
  }
  // Under a scheduler a worker is its node; standalone, its rank.
  const std::string log_name =
      flags.scheduler.empty() ? absl::StrCat("worker-", flags.rank) : flags.node_id;
  if (absl::Status s = InitLogging(flags.log_level, log_name); !s.ok()) {
    std::fprintf(stderr, "cosched-worker: --log-level: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (!flags.scheduler.empty()) {
    BlockTerminationSignals();  // before any thread starts; one thread waits for them
    if (absl::Status s = RunUnderScheduler(flags); !s.ok()) {
      std::fprintf(stderr, "cosched-worker: %s\n", s.ToString().c_str());
      return 1;
    }
    return 0;
  }
  if (!flags.standalone || flags.job.empty()) {
    std::fprintf(stderr,
                 "cosched-worker: give --scheduler HOST:PORT, or --standalone --job FILE\n%s",
                 parser.Usage().c_str());
    return 2;
  }
  if (absl::Status s = RunStandalone(flags, &argc, &argv); !s.ok()) {
    std::fprintf(stderr, "cosched-worker: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cosched::worker

int main(int argc, char** argv) { return cosched::worker::Main(argc, argv); }
