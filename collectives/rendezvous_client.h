// File: collectives/rendezvous_client.h
// RendezvousClient: a KeyValueStore backed by the scheduler's rendezvous service
// (proto/rendezvous.proto; the server is scheduler/kv/), so ranks on cluster nodes and
// vehicles form their gloo groups through the scheduler instead of a store hosted by a
// training node. It speaks only the proto, so the worker needs no scheduler code.
//
// Never hangs: every call carries a deadline. Get and Wait long-poll the server and ask again
// when the server's per-call cap ends a wait early, until their own timeout (then
// DEADLINE_EXCEEDED naming the keys still missing). Calls wait for a connection (a scheduler
// that is starting is fine), and a scheduler never reached within the timeout is UNAVAILABLE
// naming its address. Thread-safe: gloo may call it from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "collectives/key_value_store.h"
#include "proto/rendezvous.grpc.pb.h"

namespace grpc {
class Channel;
class ChannelCredentials;
class ClientContext;
}  // namespace grpc

namespace cosched::collectives {

struct RendezvousClientOptions {
  // Bound on calls that carry no timeout of their own (Set, DeletePrefix).
  absl::Duration rpc_timeout = absl::Seconds(30);
  // TLS (common/tls/credentials.h); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

class RendezvousClient final : public KeyValueStore {
 public:
  // `address` is the scheduler's HOST:PORT (an IPv6 host in brackets: [::1]:7000). Connecting
  // happens on the first call; a malformed address is INVALID_ARGUMENT here.
  static absl::StatusOr<std::unique_ptr<RendezvousClient>> Create(
      absl::string_view address, RendezvousClientOptions options = {});

  absl::Status Set(absl::string_view key, const std::vector<char>& value) override;
  absl::Status Wait(const std::vector<std::string>& keys, absl::Duration timeout) override;
  absl::StatusOr<std::vector<char>> Get(absl::string_view key, absl::Duration timeout) override;
  // Drops every key under `prefix` (an old generation's "job/<id>/gen/<g>/"); returns how many.
  absl::StatusOr<int64_t> DeletePrefix(absl::string_view prefix);

  const std::string& address() const { return address_; }

 private:
  // Sends one attempt of a long poll; the argument is how long the server may wait.
  using PollAttempt = std::function<grpc::Status(grpc::ClientContext*, uint32_t server_wait_ms)>;

  RendezvousClient(std::string address, RendezvousClientOptions options,
                   std::shared_ptr<grpc::Channel> channel);
  // Repeats `attempt` until it succeeds, fails for another reason than the server's cap, or
  // `timeout` passes. `what` describes the call for error messages ("waiting for keys a, b").
  absl::Status Poll(absl::Duration timeout, absl::string_view what, const PollAttempt& attempt);
  // One call with the rpc_timeout deadline.
  absl::Status Call(absl::string_view what,
                    const std::function<grpc::Status(grpc::ClientContext*)>& call);
  // Turns a failed call into a Status naming the server. When the call's deadline passed,
  // it is UNAVAILABLE if the server was never reached, else DEADLINE_EXCEEDED.
  absl::Status Failure(const grpc::Status& status, absl::string_view what, absl::Duration timeout,
                       bool deadline_passed) const;

  const std::string address_;
  const RendezvousClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<cosched::v1::Rendezvous::Stub> stub_;
};

}  // namespace cosched::collectives
