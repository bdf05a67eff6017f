// File: worker/agent/scheduler_session_test.cc
// SchedulerSession against an in-process fake of the scheduler's WorkerSession service: it
// registers, and after the scheduler was away for a while it still tries to reconnect at
// least once per its own max_backoff (gRPC's default reconnect backoff, which grows to
// minutes, must not space the attempts out), so a restarted scheduler is reached at once.
#include "worker/agent/scheduler_session.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace cosched::worker {
namespace {

// Answers every registration (then sends `after_registration`, if set) and reads until the
// worker goes; counts registrations.
class FakeWorkerSessions final : public cosched::v1::WorkerSession::Service {
 public:
  std::optional<cosched::v1::SchedulerMessage> after_registration;

  grpc::Status Connect(grpc::ServerContext* /*context*/,
                       grpc::ServerReaderWriter<cosched::v1::SchedulerMessage,
                                                cosched::v1::WorkerMessage>* stream) override {
    cosched::v1::WorkerMessage hello;
    if (!stream->Read(&hello) || !hello.has_registration()) return grpc::Status::OK;
    {
      // Counted before the answer: the client is connected the moment it reads it.
      MutexLock lock(&mu_);
      ++registrations_;
    }
    cosched::v1::SchedulerMessage registered;
    registered.mutable_registered()->set_heartbeat_interval_seconds(0.1);
    if (!stream->Write(registered)) return grpc::Status::OK;
    if (after_registration.has_value() && !stream->Write(*after_registration)) {
      return grpc::Status::OK;
    }
    cosched::v1::WorkerMessage message;
    while (stream->Read(&message)) {
    }
    return grpc::Status::OK;
  }
  int registrations() const {
    MutexLock lock(&mu_);
    return registrations_;
  }

 private:
  mutable Mutex mu_;
  int registrations_ ABSL_GUARDED_BY(mu_) = 0;
};

// A fake scheduler on 127.0.0.1:`port` (0: any); port() says which.
class FakeScheduler {
 public:
  explicit FakeScheduler(int port,
                         std::optional<cosched::v1::SchedulerMessage> after_registration = {}) {
    sessions_.after_registration = std::move(after_registration);
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&sessions_);
    server_ = builder.BuildAndStart();
  }
  ~FakeScheduler() {
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
  }
  int port() const { return server_ == nullptr ? 0 : port_; }
  const FakeWorkerSessions& sessions() const { return sessions_; }

 private:
  FakeWorkerSessions sessions_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

SchedulerSessionOptions Options(int port, absl::Duration max_backoff) {
  SchedulerSessionOptions options;
  options.address = absl::StrCat("127.0.0.1:", port);
  options.registration.set_node_id("dc-1");
  options.running = [] { return std::make_pair(std::string(), int64_t{-1}); };
  options.heartbeat = [] { return cosched::v1::WorkerHeartbeat(); };
  options.on_message = [](const cosched::v1::SchedulerMessage&) {};
  options.max_backoff = max_backoff;
  return options;
}

// Polls `session` until it is connected or `deadline` passes.
bool ConnectedBy(const SchedulerSession& session, absl::Time deadline) {
  while (!session.connected()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));  // polling a state the session's thread sets
  }
  return true;
}

TEST(SchedulerSessionTest, RegistersWithTheScheduler) {
  FakeScheduler scheduler(0);
  ASSERT_NE(scheduler.port(), 0);
  SchedulerSession session(Options(scheduler.port(), absl::Seconds(2)));
  EXPECT_TRUE(ConnectedBy(session, absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(scheduler.sessions().registrations(), 1);
}

// A model to load arrives with its weights: 4 bytes a parameter, so a model of a few million
// parameters is past gRPC's 4 MiB default for what a client receives. The session takes
// messages up to the limit the scheduler sends with (common/grpc_limits.h).
TEST(SchedulerSessionTest, ReceivesAModelLargerThanGrpcsDefaultLimit) {
  cosched::v1::SchedulerMessage load;
  load.mutable_load_model()->mutable_weights()->set_parameters(std::string(8 << 20, '\1'));
  FakeScheduler scheduler(0, load);
  ASSERT_NE(scheduler.port(), 0);
  Mutex mu;
  size_t received = 0;
  SchedulerSessionOptions options = Options(scheduler.port(), absl::Seconds(2));
  options.on_message = [&](const cosched::v1::SchedulerMessage& message) {
    MutexLock lock(&mu);
    if (message.has_load_model()) received = message.load_model().weights().parameters().size();
  };
  SchedulerSession session(std::move(options));
  for (const absl::Time until = absl::Now() + absl::Seconds(10); absl::Now() < until;) {
    {
      MutexLock lock(&mu);
      if (received > 0) break;
    }
    absl::SleepFor(absl::Milliseconds(10));  // polling what the session's reader thread sets
  }
  MutexLock lock(&mu);
  EXPECT_EQ(received, size_t{8} << 20);
}

// Connection attempts on 127.0.0.1:`port` during `window`: each is accepted and closed at
// once (a peer that is not a scheduler yet), so the client keeps failing and retrying.
int ConnectionAttempts(int port, absl::Duration window) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, 16) != 0) {
    ADD_FAILURE() << "cannot listen on port " << port << ": " << std::strerror(errno);
    ::close(fd);
    return -1;
  }
  int attempts = 0;
  for (const absl::Time until = absl::Now() + window; absl::Now() < until;) {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, 50) == 1) {
      const int accepted = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (accepted >= 0) {
        ++attempts;
        ::close(accepted);
      }
    }
  }
  ::close(fd);
  return attempts;
}

TEST(SchedulerSessionTest, KeepsRetryingWithinMaxBackoffAfterALongOutage) {
  int port = 0;
  {
    FakeScheduler first(0);
    port = first.port();
  }
  ASSERT_NE(port, 0);
  constexpr absl::Duration kMaxBackoff = absl::Milliseconds(500);
  SchedulerSession session(Options(port, kMaxBackoff));
  // The outage: long enough for gRPC's default reconnect backoff to have grown to seconds
  // (attempts at about 0, 1, 2.6, 5.2, 9.3 s), which would leave a restarted scheduler
  // unreached for that long whatever the session's own retries.
  absl::SleepFor(absl::Seconds(4));
  ASSERT_FALSE(session.connected());
  // Still trying at least once per max_backoff (gRPC's default: at most one in these 2 s).
  EXPECT_GE(ConnectionAttempts(port, absl::Seconds(2)), 3);
  FakeScheduler back(port);
  ASSERT_EQ(back.port(), port) << "the port was taken meanwhile";
  // Registered within the channel's backoff of the scheduler listening (the registration
  // waits for the channel rather than failing while it is down and trying again later).
  EXPECT_TRUE(ConnectedBy(session, absl::Now() + kMaxBackoff + absl::Seconds(1)));
}

}  // namespace
}  // namespace cosched::worker
