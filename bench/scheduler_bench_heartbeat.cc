// File: bench/scheduler_bench_heartbeat.cc
#include "bench/scheduler_bench_heartbeat.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_echo.grpc.pb.h"
#include "common/logging.h"
#include "common/mutex.h"
#include "proto/scheduler.grpc.pb.h"
#include "scheduler/service/core_runner.h"
#include "scheduler/service/server_transport.h"
#include "scheduler/service/session_hub.h"
#include "scheduler/service/worker_session_service.h"

namespace cosched::bench {
namespace {

using cosched::v1::SchedulerMessage;
using cosched::v1::WorkerMessage;

constexpr absl::Duration kSetupTimeout = absl::Seconds(30);
constexpr absl::Duration kKeepaliveInterval = absl::Milliseconds(250);

// What a worker sends: half the sessions are data-center nodes, half parked vehicles.
WorkerMessage Registration(int index) {
  WorkerMessage message;
  cosched::v1::RegisterWorker& reg = *message.mutable_registration();
  reg.set_node_id(absl::StrFormat("hb-%04d", index));
  const bool vehicle = index % 2 == 1;
  reg.set_kind(vehicle ? "vehicle" : "datacenter");
  reg.set_cpus(vehicle ? 8 : 32);
  reg.set_memory_bytes(int64_t{16} << 30);
  reg.set_link_mbps(vehicle ? 200 : 10000);
  reg.set_zone(vehicle ? "depot-1" : "dc0-rack1");
  return message;
}

WorkerMessage HeartbeatMessage(int index) {
  WorkerMessage message;
  cosched::v1::WorkerHeartbeat& hb = *message.mutable_heartbeat();
  if (index % 2 == 1) {
    cosched::v1::VehicleSignals& s = *hb.mutable_signals();
    s.set_parked(true);
    s.set_plugged_in(true);
    s.set_battery_fraction(0.9);
    s.set_unmetered_link(true);
    s.set_thermal_ok(true);
  }
  hb.set_state("idle");
  hb.set_inference_backlog_seconds(0);
  hb.set_service_seconds_per_image(0.0003);
  return message;
}

// The sessions' common state: they check in after registering, wait for the start, and
// write until told to stop.
struct Start {
  Mutex mu;
  CondVar cv;
  int ready ABSL_GUARDED_BY(mu) = 0;
  int failed ABSL_GUARDED_BY(mu) = 0;
  bool go ABSL_GUARDED_BY(mu) = false;
  bool abort ABSL_GUARDED_BY(mu) = false;
  std::string first_error ABSL_GUARDED_BY(mu);
  std::atomic<bool> stop{false};
};

struct SessionResult {
  int64_t sent = 0;                  // in the measured window
  int64_t keepalives = 0;            // before it, while other sessions registered
  double longest_write_seconds = 0;  // the longest gap between two writes
  std::string error;                 // empty when the stream ended cleanly
};

template <typename Service>
void RunSession(const std::string& address, int index, absl::Duration duration, Start* start,
                SessionResult* result) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one connection per session
  auto stub = Service::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kSetupTimeout + duration + kSetupTimeout));
  context.set_wait_for_ready(true);  // ride out a refused first connect on a busy machine
  auto stream = stub->Connect(&context);
  SchedulerMessage reply;
  const bool registered =
      stream->Write(Registration(index)) && stream->Read(&reply) && reply.has_registered();
  std::string why;
  if (!registered) {  // the call has ended: Finish returns its status at once
    const grpc::Status status = stream->Finish();
    why = absl::StrCat("session ", index, " could not register: ", status.error_code(), " ",
                       status.error_message());
  }
  {
    MutexLock lock(&start->mu);
    if (registered) {
      ++start->ready;
    } else {
      ++start->failed;
      if (start->first_error.empty()) start->first_error = why;
    }
    start->cv.SignalAll();
  }
  if (!registered) return;
  // Until every session has registered (which can take seconds on a busy machine), beat at
  // a worker's pace, or the core would expire the early ones (heartbeat TTL).
  const WorkerMessage heartbeat = HeartbeatMessage(index);
  bool go = false;
  while (true) {
    {
      MutexLock lock(&start->mu);
      if (!start->go && !start->abort) {
        start->cv.WaitWithDeadline(&start->mu, absl::Now() + kKeepaliveInterval);
      }
      if (start->go || start->abort) {
        go = start->go;
        break;
      }
    }
    if (stream->Write(heartbeat)) ++result->keepalives;
  }
  if (go) {
    auto last = std::chrono::steady_clock::now();
    while (!start->stop.load(std::memory_order_relaxed) && stream->Write(heartbeat)) {
      ++result->sent;
      const auto now = std::chrono::steady_clock::now();
      result->longest_write_seconds = std::max(result->longest_write_seconds,
                                               std::chrono::duration<double>(now - last).count());
      last = now;
    }
  } else {
    context.TryCancel();
  }
  stream->WritesDone();
  while (stream->Read(&reply)) {
  }
  const grpc::Status status = stream->Finish();
  // The real service cancels the stream once its reader saw the end: that is a clean end.
  if (go && !status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    result->error = absl::StrCat("session ", index, ": ", status.error_message());
  }
}

// What a server has counted so far.
struct ServerCounts {
  int64_t absorbed = 0;
  int64_t core_calls = 0;
};

// Starts the sessions, lets them write for `duration` once all registered, and measures
// `counts()` from the start signal until the last session finished and `counts()` returned.
template <typename Service>
absl::StatusOr<HeartbeatRun> DriveSessions(const std::string& address,
                                           const HeartbeatOptions& options,
                                           const std::function<ServerCounts()>& counts) {
  Start start;
  std::vector<SessionResult> results(options.sessions);
  std::vector<std::thread> threads;
  threads.reserve(options.sessions);
  for (int i = 0; i < options.sessions; ++i) {
    threads.emplace_back(RunSession<Service>, address, i, options.duration, &start, &results[i]);
  }
  std::string setup_error;
  {
    MutexLock lock(&start.mu);
    const absl::Time deadline = absl::Now() + kSetupTimeout;
    while (start.ready + start.failed < options.sessions) {
      if (start.cv.WaitWithDeadline(&start.mu, deadline)) break;
    }
    if (start.failed > 0 || start.ready < options.sessions) {
      setup_error = start.first_error.empty() ? absl::StrCat(start.ready, " of ", options.sessions,
                                                             " sessions registered within ",
                                                             absl::FormatDuration(kSetupTimeout))
                                              : start.first_error;
      start.abort = true;
      start.cv.SignalAll();
    }
  }
  if (!setup_error.empty()) {
    for (std::thread& t : threads) t.join();
    return absl::UnavailableError(absl::StrCat("heartbeat sessions: ", setup_error));
  }
  const ServerCounts before = counts();
  const auto began = std::chrono::steady_clock::now();
  {
    MutexLock lock(&start.mu);
    start.go = true;
    start.cv.SignalAll();
  }
  std::this_thread::sleep_for(absl::ToChronoNanoseconds(options.duration));  // the window
  start.stop = true;
  for (std::thread& t : threads) t.join();
  const ServerCounts after = counts();
  HeartbeatRun run;
  run.absorbed = after.absorbed - before.absorbed;
  run.core_calls = after.core_calls - before.core_calls;
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  for (const SessionResult& r : results) {
    if (!r.error.empty()) return absl::UnavailableError(absl::StrCat("heartbeats: ", r.error));
    run.sent += r.sent;
    run.keepalives += r.keepalives;
    run.longest_write_seconds = std::max(run.longest_write_seconds, r.longest_write_seconds);
  }
  return run;
}

// The reference: reads a stream, answers the registration, counts heartbeats.
class EchoService final : public cosched::bench::v1::HeartbeatEcho::Service {
 public:
  grpc::Status Connect(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<SchedulerMessage, WorkerMessage>* stream) override {
    WorkerMessage message;
    if (!stream->Read(&message)) return grpc::Status::OK;
    if (!message.has_registration()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "register first");
    }
    SchedulerMessage welcome;
    welcome.mutable_registered()->set_heartbeat_interval_seconds(1);
    if (!stream->Write(welcome)) return grpc::Status::OK;
    while (stream->Read(&message)) {
      if (message.has_heartbeat()) heartbeats_.fetch_add(1, std::memory_order_relaxed);
    }
    return grpc::Status::OK;
  }
  int64_t heartbeats() const { return heartbeats_.load(); }

 private:
  std::atomic<int64_t> heartbeats_{0};
};

// Builds and starts a server for `services` on a free port of 127.0.0.1, with the transport
// settings of the scheduler's server: the real service runs as scheduler/main.cc serves it,
// and the echo service on the same transport, so only the handlers differ.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const std::vector<grpc::Service*>& services, std::string* address) {
  grpc::ServerBuilder builder;
  scheduler::ApplyServerTransportSettings(builder);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError("heartbeats: cannot start a gRPC server on 127.0.0.1");
  }
  *address = absl::StrCat("127.0.0.1:", port);
  return server;
}

void StopServer(grpc::Server& server) {
  server.Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server.Wait();
}

// The service logs each connect and disconnect at info, and each heartbeat from a node it
// has expired at warn; thousands of them would drown the benchmark's progress lines (the
// report counts those heartbeats as sent but not absorbed).
class QuietLogs {
 public:
  QuietLogs() : level_(spdlog::get_level()) { spdlog::set_level(spdlog::level::err); }
  ~QuietLogs() { spdlog::set_level(level_); }

 private:
  const spdlog::level::level_enum level_;
};

}  // namespace

absl::StatusOr<HeartbeatRun> RunCoreHeartbeats(const HeartbeatOptions& options) {
  QuietLogs quiet;
  scheduler::SessionHub hub;
  scheduler::CoreRunner runner(scheduler::CoreConfig(),
                               scheduler::Placer(scheduler::DefaultPlacementProfile()), &hub);
  scheduler::WorkerSessionService service(&runner, &hub, absl::Seconds(1));
  std::string address;
  absl::StatusOr<std::unique_ptr<grpc::Server>> server = StartServer({&service}, &address);
  if (!server.ok()) return server.status();
  // Read on the loop, behind every drain task posted so far: when the sessions have ended,
  // that is every heartbeat they sent.
  absl::StatusOr<HeartbeatRun> run =
      DriveSessions<cosched::v1::WorkerSession>(address, options, [&runner, &service] {
        return runner.Call("bench_heartbeats", [&service](scheduler::SchedulerCore& core) {
          return ServerCounts{service.heartbeat_counts().applied, core.counters().heartbeats};
        });
      });
  if (run.ok()) {
    run->sessions_lost = runner.Call("bench_lost", [](scheduler::SchedulerCore& core) {
      int lost = 0;
      for (const scheduler::Node* node : core.Nodes()) {
        lost += node->state == scheduler::NodeState::kLost;
      }
      return lost;
    });
  }
  StopServer(**server);
  return run;
}

absl::StatusOr<HeartbeatRun> RunEchoHeartbeats(const HeartbeatOptions& options) {
  QuietLogs quiet;
  EchoService service;
  std::string address;
  absl::StatusOr<std::unique_ptr<grpc::Server>> server = StartServer({&service}, &address);
  if (!server.ok()) return server.status();
  absl::StatusOr<HeartbeatRun> run =
      DriveSessions<cosched::bench::v1::HeartbeatEcho>(address, options, [&service] {
        return ServerCounts{service.heartbeats(), 0};
      });
  StopServer(**server);
  return run;
}

}  // namespace cosched::bench
