// File: scheduler/service/worker_session_service.h
// The WorkerSession gRPC service: one bidirectional stream per worker. The first message
// must register the worker; heartbeats and inference answers follow. The stream's handler
// thread writes what the core and the router queue for the worker (SessionHub), while a
// reader thread hands incoming messages to the core. Heartbeats reach the core coalesced:
// the reader leaves each in the session's HeartbeatMailbox and posts a drain task only when
// none is queued, so a fast worker cannot flood the core's loop (heartbeat_mailbox.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "common/tls/authorizer.h"
#include "proto/scheduler.grpc.pb.h"
#include "scheduler/service/core_runner.h"
#include "scheduler/service/heartbeat_mailbox.h"
#include "scheduler/service/scheduler_metrics.h"
#include "scheduler/service/session_hub.h"

namespace cosched::scheduler {

// Heartbeat messages the service has handed to the core, counted per message: a drain that
// carries n coalesced heartbeats counts n. The core's own counters().heartbeats counts its
// ReceiveHeartbeat calls, which coalescing makes fewer than the messages.
struct HeartbeatCounts {
  int64_t applied = 0;     // the core applied them to its view of the node
  int64_t refused = 0;     // the core refused them (node unknown or already declared lost)
  int64_t core_calls = 0;  // ReceiveHeartbeat calls that carried them
};

class WorkerSessionService final : public cosched::v1::WorkerSession::Service {
 public:
  // `metrics` (optional) must outlive the runner's loop: drain tasks count heartbeats into it
  // on the loop thread.
  WorkerSessionService(CoreRunner* runner, SessionHub* hub, absl::Duration heartbeat_interval,
                       SchedulerMetrics* metrics = nullptr)
      : runner_(runner),
        hub_(hub),
        heartbeat_interval_(heartbeat_interval),
        metrics_(metrics),
        tally_(std::make_shared<Tally>()) {}

  grpc::Status Connect(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<cosched::v1::SchedulerMessage,
                                                cosched::v1::WorkerMessage>* stream) override;

  // Heartbeats handed to the core so far. Heartbeats still waiting in a mailbox are not in
  // it yet; read it in a task on the core's loop (runner.Call) to include every heartbeat
  // whose drain was posted before.
  HeartbeatCounts heartbeat_counts() const;

  // Checks that each session's node is the one its certificate names (not owned; null: no
  // checks, for benchmarks of the service alone).
  void set_authorizer(tls::Authorizer* authorizer) { authorizer_ = authorizer; }

 private:
  // Written by drain tasks on the loop thread only; atomics so that any thread may read.
  // Shared with the drain tasks, which may outlive the service in the loop's queue.
  struct Tally {
    std::atomic<int64_t> applied{0};
    std::atomic<int64_t> refused{0};
    std::atomic<int64_t> core_calls{0};
  };

  // Reader thread: hands the core a node's weights once they are checked (weights_upload.h).
  void ForwardWeights(const NodeId& node, const cosched::v1::WeightsUpload& upload);
  // Reader thread: leaves `message` in `mailbox`; posts a drain when none is queued.
  void ForwardHeartbeat(const std::shared_ptr<Session>& session,
                        const std::shared_ptr<HeartbeatMailbox>& mailbox,
                        const cosched::v1::WorkerHeartbeat& message);
  // The drain task, on the core's loop: hands the core the mailbox's coalesced heartbeat and
  // counts every heartbeat message it stands for. When the core no longer knows the node
  // (it went silent for the heartbeat TTL and was dropped), the session is closed: the worker
  // connects and registers again instead of heartbeating into the void.
  static void DrainHeartbeats(SchedulerCore& core, Session& session, HeartbeatMailbox& mailbox,
                              SchedulerMetrics* metrics, Tally& tally);

  // The registration's node id and kind are the ones its certificate names.
  absl::Status CheckIdentity(const grpc::ServerContextBase& context, const NodeInfo& info);
  // How long a node's session stays its only one after the worker last sent anything.
  absl::Duration SessionLiveness() const;

  CoreRunner* const runner_;
  SessionHub* const hub_;
  const absl::Duration heartbeat_interval_;
  SchedulerMetrics* const metrics_;
  const std::shared_ptr<Tally> tally_;
  tls::Authorizer* authorizer_ = nullptr;
};

// Conversions between the wire and the core's types (exposed for tests).
absl::StatusOr<NodeInfo> NodeInfoFromProto(const cosched::v1::RegisterWorker& message);
Heartbeat HeartbeatFromProto(const cosched::v1::WorkerHeartbeat& message);

}  // namespace cosched::scheduler
