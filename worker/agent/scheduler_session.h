// File: worker/agent/scheduler_session.h
// SchedulerSession: the worker's end of the WorkerSession stream. It dials the scheduler
// (workers dial out; vehicles sit behind NAT), registers, sends a heartbeat every interval
// the scheduler asks for, and hands every message from the scheduler to `on_message`. When
// the stream breaks it reconnects with backoff and registers again, saying which job and
// generation it still runs, so a scheduler restart does not disturb training.
#pragma once

#include <grpcpp/security/credentials.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "common/mutex.h"
#include "proto/scheduler.grpc.pb.h"

namespace cosched::worker {

struct SchedulerSessionOptions {
  std::string address;  // HOST:PORT of cosched-scheduler
  // TLS (common/tls/credentials.h); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  cosched::v1::RegisterWorker registration;  // running_job/generation filled per connect
  // What the worker runs now (for re-registration): job id (empty if none) and generation.
  std::function<std::pair<std::string, int64_t>()> running;
  std::function<cosched::v1::WorkerHeartbeat()> heartbeat;  // called on the session thread
  // Called on the session's reader thread; must not block for long.
  std::function<void(const cosched::v1::SchedulerMessage&)> on_message;
  // Longest wait between reconnection attempts; it caps the channel's own reconnect backoff
  // too, so a restarted scheduler is reached within it of listening again.
  absl::Duration max_backoff = absl::Seconds(2);
};

class SchedulerSession {
 public:
  explicit SchedulerSession(SchedulerSessionOptions options);
  ~SchedulerSession();  // closes the stream and joins its threads
  SchedulerSession(const SchedulerSession&) = delete;
  SchedulerSession& operator=(const SchedulerSession&) = delete;

  // Sends a message now (an inference answer); false while disconnected.
  bool Send(const cosched::v1::WorkerMessage& message) ABSL_LOCKS_EXCLUDED(mu_);
  // Sends a heartbeat now instead of at the next interval (after a change worth telling).
  void HeartbeatSoon() ABSL_LOCKS_EXCLUDED(mu_);
  bool connected() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Stream =
      grpc::ClientReaderWriter<cosched::v1::WorkerMessage, cosched::v1::SchedulerMessage>;
  void RunConnections();
  // One connection's life; returns when the stream ends.
  void RunOneConnection();
  void RunHeartbeats();

  const SchedulerSessionOptions options_;
  std::unique_ptr<cosched::v1::WorkerSession::Stub> stub_;
  mutable Mutex mu_;
  CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool heartbeat_now_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;  // non-null while registered
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_) = absl::Milliseconds(500);
  Mutex write_mu_;  // one writer at a time on the stream
  std::thread connections_;
  std::thread heartbeats_;
};

}  // namespace cosched::worker
