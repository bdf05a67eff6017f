// File: scheduler/kv/rendezvous_service.cc
#include "scheduler/kv/rendezvous_service.h"

#include <grpcpp/alarm.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status_macros.h"

namespace cosched::scheduler {
namespace {

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace

// What the ways a long poll can end share: the table's watch callback, the deadline alarm,
// the client's cancellation and Stop() each hold a reference, and may each try to finish the
// call. The first wins; the others find `reactor_` null. The reactor deletes itself after the
// call is done, so nothing but the winner ever touches it.
class RendezvousService::PollState {
 public:
  PollState(grpc::ServerUnaryReactor* reactor, KvTable* table, std::vector<std::string> keys,
            absl::Duration wait, cosched::v1::GetReply* get_reply)
      : table_(table),
        keys_(std::move(keys)),
        wait_(wait),
        get_reply_(get_reply),
        reactor_(reactor) {}

  const std::vector<std::string>& keys() const { return keys_; }

  void Finish(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    grpc::ServerUnaryReactor* reactor = Take();
    if (reactor != nullptr) reactor->Finish(status);
  }

  // The table's answer: every key exists (a Get returns its value), or the table closed.
  void OnWatch(absl::StatusOr<std::vector<KvTable::Value>> values) ABSL_LOCKS_EXCLUDED(mu_) {
    if (!values.ok()) {
      Finish(ToGrpcStatus(values.status()));
      return;
    }
    grpc::ServerUnaryReactor* reactor = nullptr;
    {
      MutexLock lock(&mu_);
      if (reactor_ == nullptr) return;
      // The reply belongs to the call until it finishes; only the winner writes it.
      if (get_reply_ != nullptr) get_reply_->set_value(*values->front());
      reactor = std::exchange(reactor_, nullptr);
    }
    reactor->Finish(grpc::Status::OK);
  }

  void OnDeadline() ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::string> missing = table_->MissingKeys(keys_);
    // The keys may have arrived a moment ago and the watch is about to finish the call.
    if (missing.empty()) missing = keys_;
    Finish(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, MissingKeysMessage(missing, wait_)));
  }

 private:
  grpc::ServerUnaryReactor* Take() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return std::exchange(reactor_, nullptr);
  }

  KvTable* const table_;
  const std::vector<std::string> keys_;
  const absl::Duration wait_;
  cosched::v1::GetReply* const get_reply_;  // null for Wait

  Mutex mu_;
  grpc::ServerUnaryReactor* reactor_ ABSL_GUARDED_BY(mu_);  // null once finished
};

// One Get or Wait in flight. gRPC calls OnDone once the call has finished and the handler has
// returned; it drops the watch and the alarm, whose callbacks then find nothing to do.
class RendezvousService::LongPoll final : public grpc::ServerUnaryReactor {
 public:
  LongPoll(RendezvousService* service, std::vector<std::string> keys, absl::Duration wait,
           cosched::v1::GetReply* get_reply)
      : service_(service),
        state_(
            std::make_shared<PollState>(this, service->table_, std::move(keys), wait, get_reply)),
        wait_(wait) {}

  // Runs on the handler's thread, before the handler returns this reactor.
  void Begin() {
    id_ = service_->Register(state_);
    if (id_ == 0) {
      state_->Finish(
          grpc::Status(grpc::StatusCode::UNAVAILABLE, "rendezvous service is shutting down"));
      return;
    }
    std::shared_ptr<PollState> state = state_;
    absl::StatusOr<KvTable::WatchId> watch = service_->table_->Watch(
        state->keys(), [state](absl::StatusOr<std::vector<KvTable::Value>> values) {
          state->OnWatch(std::move(values));
        });
    if (!watch.ok()) {
      state_->Finish(ToGrpcStatus(watch.status()));
      return;
    }
    watch_id_ = *watch;
    if (watch_id_ == KvTable::kAlreadyDone) return;
    alarm_.Set(absl::ToChronoTime(absl::Now() + wait_), [state](bool fired) {
      if (fired) state->OnDeadline();
    });
  }

  void OnCancel() override {
    state_->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the rendezvous wait was cancelled"));
  }

  void OnDone() override {
    if (watch_id_ != KvTable::kAlreadyDone) service_->table_->Unwatch(watch_id_);
    alarm_.Cancel();
    service_->Forget(id_);
    delete this;
  }

 private:
  RendezvousService* const service_;
  const std::shared_ptr<PollState> state_;
  const absl::Duration wait_;
  uint64_t id_ = 0;
  KvTable::WatchId watch_id_ = KvTable::kAlreadyDone;
  grpc::Alarm alarm_;
};

RendezvousService::RendezvousService(KvTable* table, RendezvousServiceOptions options)
    : table_(table), options_(options) {}

absl::Duration RendezvousService::BoundedWait(uint32_t timeout_ms) const {
  return std::min(absl::Milliseconds(timeout_ms), options_.max_wait);
}

absl::Status RendezvousService::Authorize(const grpc::ServerContextBase& caller,
                                          const std::vector<std::string>& keys) const {
  if (!options_.authorize) return absl::OkStatus();
  for (const std::string& key : keys) RETURN_IF_ERROR(options_.authorize(caller, key));
  return absl::OkStatus();
}

uint64_t RendezvousService::Register(std::shared_ptr<PollState> state) {
  MutexLock lock(&mu_);
  if (stopping_) return 0;
  const uint64_t id = next_id_++;
  pending_.emplace(id, std::move(state));
  return id;
}

void RendezvousService::Forget(uint64_t id) {
  MutexLock lock(&mu_);
  pending_.erase(id);
}

void RendezvousService::Stop() {
  std::vector<std::shared_ptr<PollState>> polls;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    for (const auto& [id, state] : pending_) polls.push_back(state);
  }
  for (const std::shared_ptr<PollState>& state : polls) {
    state->Finish(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "rendezvous service is shutting down"));
  }
}

size_t RendezvousService::pending() const {
  MutexLock lock(&mu_);
  return pending_.size();
}

grpc::ServerUnaryReactor* RendezvousService::Set(grpc::CallbackServerContext* context,
                                                 const cosched::v1::SetRequest* request,
                                                 cosched::v1::SetReply* reply) {
  if (absl::Status allowed = Authorize(*context, {request->key()}); !allowed.ok()) {
    return FinishNow(context, allowed);
  }
  return FinishNow(context, table_->Set(request->key(), request->value()));
}

grpc::ServerUnaryReactor* RendezvousService::Get(grpc::CallbackServerContext* context,
                                                 const cosched::v1::GetRequest* request,
                                                 cosched::v1::GetReply* reply) {
  if (absl::Status allowed = Authorize(*context, {request->key()}); !allowed.ok()) {
    return FinishNow(context, allowed);
  }
  auto* poll = new LongPoll(this, {request->key()}, BoundedWait(request->timeout_ms()), reply);
  poll->Begin();
  return poll;
}

grpc::ServerUnaryReactor* RendezvousService::Wait(grpc::CallbackServerContext* context,
                                                  const cosched::v1::WaitRequest* request,
                                                  cosched::v1::WaitReply* reply) {
  std::vector<std::string> keys(request->keys().begin(), request->keys().end());
  if (absl::Status allowed = Authorize(*context, keys); !allowed.ok()) {
    return FinishNow(context, allowed);
  }
  auto* poll = new LongPoll(this, std::move(keys), BoundedWait(request->timeout_ms()), nullptr);
  poll->Begin();
  return poll;
}

grpc::ServerUnaryReactor* RendezvousService::DeletePrefix(
    grpc::CallbackServerContext* context, const cosched::v1::DeletePrefixRequest* request,
    cosched::v1::DeletePrefixReply* reply) {
  if (absl::Status allowed = Authorize(*context, {request->prefix()}); !allowed.ok()) {
    return FinishNow(context, allowed);
  }
  absl::StatusOr<size_t> deleted = table_->DeletePrefix(request->prefix());
  if (deleted.ok()) reply->set_deleted(*deleted);
  return FinishNow(context, deleted.status());
}

absl::StatusOr<std::unique_ptr<RendezvousServer>> RendezvousServer::Start(
    const std::string& address, KvTable* table, RendezvousServiceOptions options) {
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  auto service = std::make_unique<RendezvousService>(table, options);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve the rendezvous service on '", address, "'"));
  }
  return std::unique_ptr<RendezvousServer>(
      new RendezvousServer(std::move(service), std::move(server), port));
}

RendezvousServer::RendezvousServer(std::unique_ptr<RendezvousService> service,
                                   std::unique_ptr<grpc::Server> server, int port)
    : service_(std::move(service)), server_(std::move(server)), port_(port) {}

RendezvousServer::~RendezvousServer() {
  service_->Stop();
  // Only short calls (Set, DeletePrefix, refused polls) can still be running; the deadline
  // cancels any that a stalled client keeps open.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
}

}  // namespace cosched::scheduler
