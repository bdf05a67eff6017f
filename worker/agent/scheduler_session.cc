// File: worker/agent/scheduler_session.cc
#include "worker/agent/scheduler_session.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "common/grpc_limits.h"
#include "common/logging.h"

namespace cosched::worker {

using cosched::v1::SchedulerMessage;
using cosched::v1::WorkerMessage;

namespace {

// The session's channel. gRPC's own reconnect backoff (1 s growing to 2 min by default)
// would hold the connection down long after a restarted scheduler listens again, whatever
// this session's retry loop does: a scheduler down for 4 s was reached again only after
// 11 s, too late for the one heartbeat TTL a restarted scheduler gives the members of its
// jobs. The channel's backoff is capped at the session's own.
std::shared_ptr<grpc::Channel> SessionChannel(const SchedulerSessionOptions& options) {
  grpc::ChannelArguments args;
  const int max_backoff_ms =
      static_cast<int>(std::max<int64_t>(100, absl::ToInt64Milliseconds(options.max_backoff)));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_backoff_ms);
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);  // a model to load carries its weights
  return grpc::CreateCustomChannel(
      options.address,
      options.credentials ? options.credentials : grpc::InsecureChannelCredentials(), args);
}

}  // namespace

SchedulerSession::SchedulerSession(SchedulerSessionOptions options)
    : options_(std::move(options)),
      stub_(cosched::v1::WorkerSession::NewStub(SessionChannel(options_))) {
  connections_ = std::thread([this] { RunConnections(); });
  heartbeats_ = std::thread([this] { RunHeartbeats(); });
}

SchedulerSession::~SchedulerSession() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
    wake_.SignalAll();
  }
  connections_.join();
  heartbeats_.join();
}

bool SchedulerSession::connected() const {
  MutexLock lock(&mu_);
  return stream_ != nullptr;
}

bool SchedulerSession::Send(const WorkerMessage& message) {
  MutexLock write_lock(&write_mu_);
  Stream* stream = nullptr;
  {
    MutexLock lock(&mu_);
    stream = stream_;
  }
  // The stream stays valid while write_mu_ is held: RunOneConnection clears stream_ and then
  // takes write_mu_ before destroying it.
  return stream != nullptr && stream->Write(message);
}

void SchedulerSession::HeartbeatSoon() {
  MutexLock lock(&mu_);
  heartbeat_now_ = true;
  wake_.SignalAll();
}

void SchedulerSession::RunConnections() {
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const absl::Time started = absl::Now();
    RunOneConnection();
    if (absl::Now() - started > absl::Seconds(5)) backoff = absl::Milliseconds(100);
    MutexLock lock(&mu_);
    const absl::Time retry = absl::Now() + backoff;
    while (!stopping_ && !wake_.WaitWithDeadline(&mu_, retry)) {
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void SchedulerSession::RunOneConnection() {
  grpc::ClientContext context;
  {
    MutexLock lock(&mu_);
    if (stopping_) return;
    context_ = &context;
  }
  // Waits for the channel to connect instead of failing at once while it is down: the
  // registration goes out the moment the scheduler listens (the channel retries within
  // max_backoff), not at the next turn of this loop. Stop() cancels the wait.
  context.set_wait_for_ready(true);
  std::unique_ptr<Stream> stream = stub_->Connect(&context);
  WorkerMessage hello;
  *hello.mutable_registration() = options_.registration;
  const auto [job, generation] = options_.running();
  hello.mutable_registration()->set_running_job(job);
  hello.mutable_registration()->set_running_generation(generation);
  SchedulerMessage message;
  // Whether the stream is over (a read or write failed): then Finish() returns the
  // scheduler's own status (why it refused the registration) instead of our cancellation.
  bool over = true;
  if (stream->Write(hello) && stream->Read(&message)) over = false;
  if (!over && message.has_registered()) {
    {
      MutexLock lock(&mu_);
      heartbeat_interval_ =
          absl::Seconds(std::max(0.05, message.registered().heartbeat_interval_seconds()));
      stream_ = stream.get();
      heartbeat_now_ = true;
      wake_.SignalAll();
    }
    spdlog::info("registered with the scheduler at {}", options_.address);
    while (stream->Read(&message)) options_.on_message(message);
    over = true;
  }
  {
    MutexLock lock(&mu_);
    stream_ = nullptr;
    context_ = nullptr;
  }
  MutexLock write_lock(&write_mu_);  // no Send() is still using the stream
  if (!over) context.TryCancel();
  const grpc::Status status = stream->Finish();
  spdlog::warn(
      "scheduler session ended: {}",
      status.ok() ? "closed" : absl::StrCat(status.error_code(), " ", status.error_message()));
}

void SchedulerSession::RunHeartbeats() {
  while (true) {
    {
      MutexLock lock(&mu_);
      const absl::Time next = absl::Now() + heartbeat_interval_;
      while (!stopping_ && !heartbeat_now_) {
        if (wake_.WaitWithDeadline(&mu_, next)) break;
      }
      if (stopping_) return;
      heartbeat_now_ = false;
      if (stream_ == nullptr) continue;
    }
    WorkerMessage message;
    *message.mutable_heartbeat() = options_.heartbeat();
    Send(message);
  }
}

}  // namespace cosched::worker
