// File: scheduler/kv/rendezvous_service.h
// RendezvousService: the gRPC face (proto/rendezvous.proto) of a KvTable, so gloo ranks on
// cluster nodes and vehicles rendezvous through the scheduler. RendezvousServer runs it alone
// on an address (tests, tools); the scheduler may register the service on its own server.
//
// Get and Wait are long polls on gRPC's callback API: a waiting client holds a table watch
// and a timer, not a thread. Each ends at the first of: the keys exist, the wait's bound
// (the request's timeout, capped by max_wait), the client cancelling, the table closing, or
// Stop(); so shutting the server down never waits on a long poll.
#pragma once

#include <grpcpp/server_context.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "proto/rendezvous.grpc.pb.h"
#include "scheduler/kv/kv_table.h"

namespace grpc {
class Server;
}

namespace cosched::scheduler {

struct RendezvousServiceOptions {
  // Longest one Get or Wait waits on the server whatever the request asks; RendezvousClient
  // asks again until its own timeout, so the cap only bounds how long a call holds resources.
  absl::Duration max_wait = absl::Seconds(60);
  // Whether the caller may use `key` (a key, or a prefix to delete); checked for every key of
  // every call before the table sees it. Unset: everyone may use every key.
  std::function<absl::Status(const grpc::ServerContextBase& caller, absl::string_view key)>
      authorize;
};

class RendezvousService final : public cosched::v1::Rendezvous::CallbackService {
 public:
  // `table` must outlive the service.
  explicit RendezvousService(KvTable* table, RendezvousServiceOptions options = {});

  // Ends every Get / Wait in flight with UNAVAILABLE and refuses later ones at once. Call it
  // before shutting down the gRPC server this service is registered on. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Long polls in flight (for metrics and tests).
  size_t pending() const ABSL_LOCKS_EXCLUDED(mu_);

  grpc::ServerUnaryReactor* Set(grpc::CallbackServerContext* context,
                                const cosched::v1::SetRequest* request,
                                cosched::v1::SetReply* reply) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const cosched::v1::GetRequest* request,
                                cosched::v1::GetReply* reply) override;
  grpc::ServerUnaryReactor* Wait(grpc::CallbackServerContext* context,
                                 const cosched::v1::WaitRequest* request,
                                 cosched::v1::WaitReply* reply) override;
  grpc::ServerUnaryReactor* DeletePrefix(grpc::CallbackServerContext* context,
                                         const cosched::v1::DeletePrefixRequest* request,
                                         cosched::v1::DeletePrefixReply* reply) override;

 private:
  class PollState;
  class LongPoll;

  // options_.authorize for each of `keys`; OK when unset.
  absl::Status Authorize(const grpc::ServerContextBase& caller,
                         const std::vector<std::string>& keys) const;
  // The wait a request may have: its timeout, capped by max_wait.
  absl::Duration BoundedWait(uint32_t timeout_ms) const;
  // Records a long poll so Stop() can end it; 0 when stopping (the poll must end itself).
  uint64_t Register(std::shared_ptr<PollState> state) ABSL_LOCKS_EXCLUDED(mu_);
  void Forget(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  KvTable* const table_;
  const RendezvousServiceOptions options_;

  mutable Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::shared_ptr<PollState>> pending_ ABSL_GUARDED_BY(mu_);
};

// A gRPC server with only the rendezvous service on it.
class RendezvousServer {
 public:
  // Serves `table` on `address` (HOST:PORT; port 0 picks a free one).
  static absl::StatusOr<std::unique_ptr<RendezvousServer>> Start(
      const std::string& address, KvTable* table, RendezvousServiceOptions options = {});
  // Stops the service (long polls end with UNAVAILABLE), then shuts the server down.
  ~RendezvousServer();
  RendezvousServer(const RendezvousServer&) = delete;
  RendezvousServer& operator=(const RendezvousServer&) = delete;

  int port() const { return port_; }
  RendezvousService& service() { return *service_; }

 private:
  RendezvousServer(std::unique_ptr<RendezvousService> service, std::unique_ptr<grpc::Server> server,
                   int port);

  std::unique_ptr<RendezvousService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_;
};

}  // namespace cosched::scheduler
