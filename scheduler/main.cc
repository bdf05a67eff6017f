// File: scheduler/main.cc
// cosched-scheduler: the central scheduler. One gRPC server carries the client service
// (coschedctl), the worker sessions and the rendezvous KV for gloo; the decision engine runs
// on its own loop thread. Jobs survive restarts in --data-dir (a WAL + snapshot store): they
// are recovered before the server starts. Prints one JSON line
// {"event":"scheduler_ready","address":...,"jobs_recovered":N} when it serves.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/status_macros.h"
#include "common/termination_signals.h"
#include "common/tls/authorizer.h"
#include "common/tls/credentials.h"
#include "scheduler/edge/edge_service.h"
#include "scheduler/kv/kv_table.h"
#include "scheduler/kv/rendezvous_service.h"
#include "scheduler/scheduler_config.h"
#include "scheduler/service/client_service.h"
#include "scheduler/service/core_runner.h"
#include "scheduler/service/job_journal.h"
#include "scheduler/service/rendezvous_access.h"
#include "scheduler/service/rendezvous_cleanup.h"
#include "scheduler/service/scheduler_metrics.h"
#include "scheduler/service/server_transport.h"
#include "scheduler/service/session_hub.h"
#include "scheduler/service/worker_session_service.h"
#include "scheduler/store/file_state_store.h"

namespace cosched::scheduler {
namespace {

struct SchedulerFlags {
  std::string listen = "127.0.0.1:7070";
  std::string config;
  std::string log_level = "info";
  std::string data_dir = "cosched-data";
  std::string metrics_address;
  tls::TlsFlags tls;
  std::string tokens_file;
};

absl::Status Serve(const SchedulerFlags& flags) {
  RETURN_IF_ERROR(tls::CheckTlsFlags(flags.tls, tls::TlsUse::kServer));
  if (flags.tls.insecure) tls::WarnInsecure("cosched-scheduler");
  tls::Authorizer authorizer(tls::CallerTrustStore(flags.tls), flags.tokens_file);
  SchedulerConfig config;
  if (!flags.config.empty()) {
    ASSIGN_OR_RETURN(config, LoadSchedulerConfig(flags.config));
  }
  // The store and the journal outlive the runner, whose loop thread writes through them.
  absl::StatusOr<std::unique_ptr<FileStateStore>> store = FileStateStore::Open(flags.data_dir);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("--data-dir: ", store.status().message()));
  }
  absl::StatusOr<RecoveredJobs> recovered = RecoverJobs(**store);
  if (!recovered.ok()) {
    return absl::Status(recovered.status().code(),
                        absl::StrCat("recovering jobs from --data-dir '", flags.data_dir,
                                     "': ", recovered.status().message()));
  }
  StoreJobJournal journal(store->get(), *recovered);
  MetricsRegistry registry;
  SchedulerMetrics metrics(&registry);
  metrics.set_journal(&journal);
  std::unique_ptr<MetricsServer> metrics_server;
  if (!flags.metrics_address.empty()) {
    ASSIGN_OR_RETURN(metrics_server, MetricsServer::Start(flags.metrics_address, registry));
  }
  SessionHub hub;
  KvTable kv;
  RendezvousCleanup cleanup(&hub, &kv);
  // Learns each job's members from the core's decisions before any worker hears of them.
  RendezvousAccess access(&cleanup);
  // The edge tier's aggregator sees the core's decisions first (a revoked vehicle is no
  // longer waited for in its job's round).
  edge::EdgeService edge_rounds(&access, &registry);
  edge_rounds.set_authorizer(&authorizer);
  CoreRunner runner(config.core, Placer(std::move(config.placement)), &edge_rounds, &metrics);
  edge_rounds.set_runner(&runner);
  // Before the server starts, so no worker registers ahead of the jobs it belongs to.
  RETURN_IF_ERROR(runner.Call("restore", [&](SchedulerCore& core) {
    core.set_journal(&journal);
    return core.Restore(std::move(recovered->jobs), recovered->next_job_number, recovered->models);
  }));
  const int jobs_recovered = runner.Call(
      "count_jobs", [](SchedulerCore& core) { return static_cast<int>(core.Jobs().size()); });
  spdlog::info(
      "recovered {} jobs from {} (snapshot at sequence {}, {} log records after it{})",
      jobs_recovered, flags.data_dir, recovered->snapshot_sequence, recovered->records_replayed,
      recovered->warnings.empty() ? ""
                                  : absl::StrCat(", ", recovered->warnings.size(), " warnings"));
  RendezvousServiceOptions rendezvous_options;
  rendezvous_options.authorize = [&authorizer, &access, &metrics](
                                     const grpc::ServerContextBase& caller,
                                     absl::string_view key) -> absl::Status {
    absl::StatusOr<tls::Identity> node = authorizer.RequireNode(caller, "use rendezvous keys");
    absl::Status allowed = node.status();
    if (node.ok() && node->kind == tls::PeerKind::kNode) allowed = access.Check(node->name, key);
    if (!allowed.ok()) {
      spdlog::warn("refused a rendezvous call from {}: {}", caller.peer(),
                   std::string(allowed.message()));
      metrics.CallRefused("rendezvous", allowed.code());
    }
    return allowed;
  };
  RendezvousService rendezvous(&kv, rendezvous_options);
  ClientService clients(&runner, &hub, &metrics);
  clients.set_authorizer(&authorizer);
  clients.set_limits(config.limits);
  clients.set_job_details([&edge_rounds](cosched::v1::JobStatus* job) {
    edge_rounds.FillStatus(job->job_id(), job->mutable_edge());
  });
  WorkerSessionService sessions(&runner, &hub, config.heartbeat_interval, &metrics);
  sessions.set_authorizer(&authorizer);

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // grpc.health.v1 (what Kubernetes' grpc probes ask): SERVING once the server runs,
  // NOT_SERVING from the start of a shutdown.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  ApplyServerTransportSettings(builder);
  int port = 0;
  builder.AddListeningPort(flags.listen, tls::ServerCredentials(flags.tls), &port);
  builder.RegisterService(&clients);
  builder.RegisterService(&sessions);
  builder.RegisterService(&rendezvous);
  builder.RegisterService(&edge_rounds);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on '", flags.listen, "'"));
  }
  const std::string host = flags.listen.substr(0, flags.listen.rfind(':'));
  std::printf(
      "{\"event\":\"scheduler_ready\",\"address\":\"%s:%d\",\"jobs_recovered\":%d,"
      "\"metrics_port\":%d}\n",
      host.c_str(), port, jobs_recovered, metrics_server ? metrics_server->port() : 0);
  std::fflush(stdout);
  spdlog::info("serving on {}:{}", host, port);

  spdlog::info("signal {}: shutting down", WaitForTerminationSignal());
  if (grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService()) {
    health->Shutdown();  // probes see NOT_SERVING while the server drains
  }
  rendezvous.Stop();
  kv.Close();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  // A clean stop leaves a snapshot, so the next start replays no log.
  if (absl::Status s =
          runner.Call("snapshot", [&](SchedulerCore&) { return journal.WriteSnapshot(); });
      !s.ok()) {
    spdlog::error("state store: shutdown snapshot failed: {}", s.ToString());
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  BlockTerminationSignals();  // before any thread starts; Serve waits for them

  SchedulerFlags flags;
  FlagParser parser("cosched-scheduler");
  parser.String("listen", &flags.listen, "HOST:PORT for clients, workers and the rendezvous");
  parser.String("config", &flags.config, "scheduler YAML (configs/scheduler.yaml)");
  parser.String("log-level", &flags.log_level, "trace|debug|info|warn|error");
  parser.String("metrics-address", &flags.metrics_address, "HOST:PORT serving /metrics");
  parser.String("data-dir", &flags.data_dir,
                "directory of the scheduler's write-ahead log and snapshots (jobs survive "
                "restarts); created if missing");
  tls::RegisterTlsFlags(parser, &flags.tls);
  parser.String("tokens", &flags.tokens_file,
                "YAML file of clients' bearer tokens (coschedctl certs token; read again when it "
                "changes)");
  if (std::optional<int> exit_code = parser.ParseOrExitCode(argc, argv)) return *exit_code;
  if (absl::Status s = InitLogging(flags.log_level, "scheduler"); !s.ok()) {
    std::fprintf(stderr, "cosched-scheduler: --log-level: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (absl::Status s = Serve(flags); !s.ok()) {
    std::fprintf(stderr, "cosched-scheduler: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cosched::scheduler

int main(int argc, char** argv) { return cosched::scheduler::Main(argc, argv); }
