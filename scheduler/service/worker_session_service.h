// File: scheduler/service/worker_session_service.h
// The WorkerSession gRPC service: one bidirectional stream per worker. The first message
// must register the worker; heartbeats and inference answers follow. The stream's handler
// thread writes what the core and the router queue for the worker (SessionHub), while a
// reader thread hands incoming messages to the core.
#pragma once

#include "absl/time/time.h"
#include "proto/scheduler.grpc.pb.h"
#include "scheduler/service/core_runner.h"
#include "scheduler/service/session_hub.h"

namespace cosched::scheduler {

class WorkerSessionService final : public cosched::v1::WorkerSession::Service {
 public:
  WorkerSessionService(CoreRunner* runner, SessionHub* hub, absl::Duration heartbeat_interval)
      : runner_(runner), hub_(hub), heartbeat_interval_(heartbeat_interval) {}

  grpc::Status Connect(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<cosched::v1::SchedulerMessage,
                                                cosched::v1::WorkerMessage>* stream) override;

 private:
  CoreRunner* const runner_;
  SessionHub* const hub_;
  const absl::Duration heartbeat_interval_;
};

// Conversions between the wire and the core's types (exposed for tests).
absl::StatusOr<NodeInfo> NodeInfoFromProto(const cosched::v1::RegisterWorker& message);
Heartbeat HeartbeatFromProto(const cosched::v1::WorkerHeartbeat& message);

}  // namespace cosched::scheduler
