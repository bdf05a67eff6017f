// File: collectives/rendezvous_client.cc
#include "collectives/rendezvous_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/rendezvous_keys.h"
#include "common/status_macros.h"

namespace cosched::collectives {
namespace {

// When a long poll times out the server answers naming the keys still missing; the server is
// told to give up this much before the call's own deadline so that answer arrives first.
constexpr absl::Duration kAnswerMargin = absl::Milliseconds(200);
// Every call gets at least this long, so a zero timeout still checks once.
constexpr absl::Duration kMinCallTime = absl::Milliseconds(100);

absl::Status CheckAddress(absl::string_view address) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("rendezvous address '", address, "' is not HOST:PORT: ", why));
  };
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return bad("no ':PORT'");
  const absl::string_view host = address.substr(0, colon);
  const absl::string_view port = address.substr(colon + 1);
  if (host.empty()) return bad("the host is empty");
  if (host.front() == '[' ? (host.size() < 3 || host.back() != ']')
                          : host.find(':') != absl::string_view::npos) {
    return bad("an IPv6 host goes in brackets, like [::1]:7000");
  }
  int number = 0;
  if (port.empty() || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
    return bad(absl::StrCat("the port '", port, "' is not a number in 1..65535"));
  }
  return absl::OkStatus();
}

uint32_t ToWaitMs(absl::Duration wait) {
  const int64_t ms = absl::ToInt64Milliseconds(std::max(wait, absl::ZeroDuration()));
  return static_cast<uint32_t>(std::min<int64_t>(ms, std::numeric_limits<uint32_t>::max()));
}

absl::string_view StateName(grpc_connectivity_state state) {
  switch (state) {
    case GRPC_CHANNEL_IDLE:
      return "idle";
    case GRPC_CHANNEL_CONNECTING:
      return "connecting";
    case GRPC_CHANNEL_READY:
      return "ready";
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      return "failing to connect";
    case GRPC_CHANNEL_SHUTDOWN:
      return "shut down";
  }
  return "unknown";
}

}  // namespace

absl::StatusOr<std::unique_ptr<RendezvousClient>> RendezvousClient::Create(
    absl::string_view address, RendezvousClientOptions options) {
  RETURN_IF_ERROR(CheckAddress(address));
  if (options.rpc_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("rendezvous rpc_timeout must be positive, got ",
                                                   absl::FormatDuration(options.rpc_timeout)));
  }
  grpc::ChannelArguments args;
  // A scheduler that is starting or restarting is retried soon, not after gRPC's default
  // backoff of up to two minutes; calls wait for it within their own deadlines.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      std::string(address),
      options.credentials ? options.credentials : grpc::InsecureChannelCredentials(), args);
  return std::unique_ptr<RendezvousClient>(
      new RendezvousClient(std::string(address), options, std::move(channel)));
}

RendezvousClient::RendezvousClient(std::string address, RendezvousClientOptions options,
                                   std::shared_ptr<grpc::Channel> channel)
    : address_(std::move(address)),
      options_(options),
      channel_(std::move(channel)),
      stub_(cosched::v1::Rendezvous::NewStub(channel_)) {}

absl::Status RendezvousClient::Failure(const grpc::Status& status, absl::string_view what,
                                       absl::Duration timeout, bool deadline_passed) const {
  if (deadline_passed) {
    const grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/false);
    if (state != GRPC_CHANNEL_READY) {
      return absl::UnavailableError(absl::StrCat(
          "rendezvous server ", address_, " unreachable: no connection within ",
          absl::FormatDuration(timeout), " while ", what, " (channel ", StateName(state), ")"));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("rendezvous server ", address_, " did not answer within ",
                     absl::FormatDuration(timeout), " while ", what));
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("rendezvous server ", address_, ": ", status.error_message()));
}

absl::Status RendezvousClient::Poll(absl::Duration timeout, absl::string_view what,
                                    const PollAttempt& attempt) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const absl::Time call_start = absl::Now();
    const absl::Duration remaining = std::max(deadline - call_start, absl::ZeroDuration());
    const uint32_t server_wait_ms = ToWaitMs(remaining - std::min(remaining / 10, kAnswerMargin));
    const absl::Time call_deadline = std::max(deadline, call_start + kMinCallTime);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(call_deadline));
    context.set_wait_for_ready(true);
    const grpc::Status status = attempt(&context, server_wait_ms);
    if (status.ok()) return absl::OkStatus();
    const absl::Time now = absl::Now();
    // The server ended the wait before the time it was given: that is its per-call cap, and
    // this client still has time, so it asks again.
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && now < deadline &&
        now - call_start < absl::Milliseconds(server_wait_ms)) {
      continue;
    }
    return Failure(status, what, timeout, /*deadline_passed=*/now >= call_deadline);
  }
}

absl::Status RendezvousClient::Call(absl::string_view what,
                                    const std::function<grpc::Status(grpc::ClientContext*)>& call) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));
  context.set_wait_for_ready(true);
  const grpc::Status status = call(&context);
  if (status.ok()) return absl::OkStatus();
  // The server never answers these calls with DEADLINE_EXCEEDED itself.
  return Failure(status, what, options_.rpc_timeout,
                 status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
}

absl::Status RendezvousClient::Set(absl::string_view key, const std::vector<char>& value) {
  RETURN_IF_ERROR(CheckKeyText(key));
  cosched::v1::SetRequest request;
  request.set_key(std::string(key));
  request.set_value(value.data(), value.size());
  cosched::v1::SetReply reply;
  return Call(absl::StrCat("setting key ", key),
              [&](grpc::ClientContext* context) { return stub_->Set(context, request, &reply); });
}

absl::Status RendezvousClient::Wait(const std::vector<std::string>& keys, absl::Duration timeout) {
  for (const std::string& key : keys) RETURN_IF_ERROR(CheckKeyText(key));
  if (keys.empty()) return absl::OkStatus();
  cosched::v1::WaitRequest request;
  for (const std::string& key : keys) request.add_keys(key);
  cosched::v1::WaitReply reply;
  return Poll(timeout, absl::StrCat("waiting for keys ", KeyList(keys)),
              [&](grpc::ClientContext* context, uint32_t server_wait_ms) {
                request.set_timeout_ms(server_wait_ms);
                return stub_->Wait(context, request, &reply);
              });
}

absl::StatusOr<std::vector<char>> RendezvousClient::Get(absl::string_view key,
                                                        absl::Duration timeout) {
  RETURN_IF_ERROR(CheckKeyText(key));
  cosched::v1::GetRequest request;
  request.set_key(std::string(key));
  cosched::v1::GetReply reply;
  RETURN_IF_ERROR(Poll(timeout, absl::StrCat("getting key ", key),
                       [&](grpc::ClientContext* context, uint32_t server_wait_ms) {
                         request.set_timeout_ms(server_wait_ms);
                         return stub_->Get(context, request, &reply);
                       }));
  return std::vector<char>(reply.value().begin(), reply.value().end());
}

absl::StatusOr<int64_t> RendezvousClient::DeletePrefix(absl::string_view prefix) {
  RETURN_IF_ERROR(CheckKeyText(prefix, "prefix"));
  cosched::v1::DeletePrefixRequest request;
  request.set_prefix(std::string(prefix));
  cosched::v1::DeletePrefixReply reply;
  RETURN_IF_ERROR(Call(absl::StrCat("deleting prefix ", prefix), [&](grpc::ClientContext* context) {
    return stub_->DeletePrefix(context, request, &reply);
  }));
  return static_cast<int64_t>(reply.deleted());
}

}  // namespace cosched::collectives
