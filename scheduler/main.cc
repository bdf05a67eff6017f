// File: scheduler/main.cc
// cosched-scheduler: the central scheduler. One gRPC server carries the client service
// (coschedctl), the worker sessions and the rendezvous KV for gloo; the decision engine runs
// on its own loop thread. Prints one JSON line {"event":"scheduler_ready","address":...} when
// it serves.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "scheduler/kv/kv_table.h"
#include "scheduler/kv/rendezvous_service.h"
#include "scheduler/scheduler_config.h"
#include "scheduler/service/client_service.h"
#include "scheduler/service/core_runner.h"
#include "scheduler/service/session_hub.h"
#include "scheduler/service/worker_session_service.h"

namespace cosched::scheduler {
namespace {

struct SchedulerFlags {
  std::string listen = "127.0.0.1:7070";
  std::string config;
  std::string log_level = "info";
};

// Blocks until SIGINT or SIGTERM.
void WaitForTerminationSignal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("signal {}: shutting down", received);
}

absl::Status Serve(const SchedulerFlags& flags) {
  SchedulerConfig config;
  if (!flags.config.empty()) {
    ASSIGN_OR_RETURN(config, LoadSchedulerConfig(flags.config));
  }
  SessionHub hub;
  CoreRunner runner(config.core, Placer(std::move(config.placement)), &hub);
  KvTable kv;
  RendezvousService rendezvous(&kv);
  ClientService clients(&runner, &hub);
  WorkerSessionService sessions(&runner, &hub, config.heartbeat_interval);

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(flags.listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&clients);
  builder.RegisterService(&sessions);
  builder.RegisterService(&rendezvous);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on '", flags.listen, "'"));
  }
  const std::string host = flags.listen.substr(0, flags.listen.rfind(':'));
  std::printf("{\"event\":\"scheduler_ready\",\"address\":\"%s:%d\"}\n", host.c_str(), port);
  std::fflush(stdout);
  spdlog::info("serving on {}:{}", host, port);

  WaitForTerminationSignal();
  rendezvous.Stop();
  kv.Close();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  // Signals are taken synchronously by WaitForTerminationSignal; block them in every thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  SchedulerFlags flags;
  FlagParser parser("cosched-scheduler");
  parser.String("listen", &flags.listen, "HOST:PORT for clients, workers and the rendezvous");
  parser.String("config", &flags.config, "scheduler YAML (configs/scheduler.yaml)");
  parser.String("log-level", &flags.log_level, "trace|debug|info|warn|error");
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
