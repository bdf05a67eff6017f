// File: scheduler/service/worker_session_service.cc
#include "scheduler/service/worker_session_service.h"

#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "scheduler/service/weights_upload.h"

namespace cosched::scheduler {

using cosched::v1::SchedulerMessage;
using cosched::v1::WorkerMessage;

absl::StatusOr<NodeInfo> NodeInfoFromProto(const cosched::v1::RegisterWorker& message) {
  NodeInfo info;
  info.id = message.node_id();
  if (info.id.empty() || info.id.size() > 128) {
    return absl::InvalidArgumentError("registration: node_id must have 1 to 128 characters");
  }
  if (message.kind() == "vehicle") {
    info.kind = NodeKind::kVehicle;
  } else if (message.kind() == "datacenter" || message.kind().empty()) {
    info.kind = NodeKind::kDatacenter;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("registration: kind '", message.kind(),
                                                   "' is neither datacenter nor vehicle"));
  }
  info.cpus = message.cpus() > 0 ? message.cpus() : 1;
  info.memory_bytes = message.memory_bytes();
  if (message.link_mbps() < 0 || info.memory_bytes < 0) {
    return absl::InvalidArgumentError("registration: link_mbps and memory_bytes must be >= 0");
  }
  info.link_mbps = message.link_mbps();
  info.zone = message.zone();
  return info;
}

namespace {

// A worker's free-text reasons end up in job events and logs: at most this much of each.
constexpr size_t kMaxReasonBytes = 512;

std::string Bounded(const std::string& reason) {
  if (reason.size() <= kMaxReasonBytes) return reason;
  return absl::StrCat(reason.substr(0, kMaxReasonBytes), "... (", reason.size(), " bytes)");
}

}  // namespace

Heartbeat HeartbeatFromProto(const cosched::v1::WorkerHeartbeat& message) {
  Heartbeat heartbeat;
  heartbeat.job = message.job_id();
  const cosched::v1::VehicleSignals& s = message.signals();
  heartbeat.signals = VehicleSignals{s.parked(), s.plugged_in(), s.battery_fraction(),
                                     s.unmetered_link(), s.thermal_ok()};
  if (s.departs_at_unix_seconds() > 0 && std::isfinite(s.departs_at_unix_seconds())) {
    heartbeat.signals.departs_at =
        absl::FromUnixSeconds(0) + absl::Seconds(s.departs_at_unix_seconds());
  }
  if (!message.job_id().empty()) {
    heartbeat.generation = message.generation();
    heartbeat.progress = JobProgress{message.step(), message.epoch(), message.test_accuracy(),
                                     message.checkpoint_dir()};
  }
  if (message.has_failed_generation()) {
    heartbeat.failed_generation = message.failed_generation();
    heartbeat.generation_failure = Bounded(message.generation_failure());
  }
  heartbeat.job_finished = message.job_finished();
  if (message.has_served()) {
    const cosched::v1::ServedVersion& served = message.served();
    heartbeat.served =
        ServedVersion{served.model(), served.version(), served.test_accuracy(),
                      absl::FromUnixSeconds(served.published_unix_seconds()), served.job_id()};
  }
  heartbeat.inference_backlog = absl::Seconds(message.inference_backlog_seconds());
  heartbeat.service_per_image = absl::Seconds(message.service_seconds_per_image());
  heartbeat.failure = Bounded(message.failure());
  heartbeat.draining = Bounded(message.draining());
  return heartbeat;
}

// A drain task captures nothing owned by the service (the mailbox and the tally are shared),
// as it may run after the session, and at shutdown the service, has gone.
void WorkerSessionService::ForwardHeartbeat(const std::shared_ptr<Session>& session,
                                            const std::shared_ptr<HeartbeatMailbox>& mailbox,
                                            const cosched::v1::WorkerHeartbeat& message) {
  if (!mailbox->Put(HeartbeatFromProto(message))) return;  // the queued drain will carry it
  runner_->Post("heartbeat",
                [session, mailbox, tally = tally_, metrics = metrics_](SchedulerCore& core) {
                  DrainHeartbeats(core, *session, *mailbox, metrics, *tally);
                });
}

void WorkerSessionService::ForwardWeights(const NodeId& node,
                                          const cosched::v1::WeightsUpload& upload) {
  absl::StatusOr<std::shared_ptr<const std::string>> weights = CheckWeightsUpload(upload);
  if (!weights.ok()) {
    spdlog::warn("node {} sent no usable weights for {} version {}: {}", node, upload.model(),
                 upload.version(), weights.status().ToString());
  }
  runner_->Post("weights_arrived", [node, model = upload.model(), version = upload.version(),
                                    kept = weights.value_or(nullptr)](SchedulerCore& core) {
    core.WeightsArrived(node, model, version, kept);
  });
}

void WorkerSessionService::DrainHeartbeats(SchedulerCore& core, Session& session,
                                           HeartbeatMailbox& mailbox, SchedulerMetrics* metrics,
                                           Tally& tally) {
  std::optional<HeartbeatMailbox::Batch> batch = mailbox.Take();
  if (!batch.has_value()) return;
  const NodeId& node = session.node();
  const absl::Status status = core.ReceiveHeartbeat(node, batch->heartbeat);
  tally.core_calls.fetch_add(1, std::memory_order_relaxed);
  (status.ok() ? tally.applied : tally.refused).fetch_add(batch->count, std::memory_order_relaxed);
  if (metrics != nullptr) metrics->CountHeartbeats(batch->count);
  if (!status.ok()) {
    spdlog::warn("{} heartbeat(s) from {}: {}", batch->count, node, status.ToString());
  }
  if (absl::IsNotFound(status)) session.Close();
}

HeartbeatCounts WorkerSessionService::heartbeat_counts() const {
  HeartbeatCounts counts;
  counts.applied = tally_->applied.load(std::memory_order_relaxed);
  counts.refused = tally_->refused.load(std::memory_order_relaxed);
  counts.core_calls = tally_->core_calls.load(std::memory_order_relaxed);
  return counts;
}

absl::Status WorkerSessionService::CheckIdentity(const grpc::ServerContextBase& context,
                                                 const NodeInfo& info) {
  if (authorizer_ == nullptr) return absl::OkStatus();
  absl::StatusOr<tls::Identity> identity =
      authorizer_->RequireNode(context, "open a worker session");
  if (!identity.ok()) return identity.status();
  if (identity->kind != tls::PeerKind::kNode) return absl::OkStatus();  // --insecure
  if (identity->name != info.id || identity->node_kind != NodeKindName(info.kind)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the certificate is for ", tls::Describe(*identity), "; it may not register as node ",
        info.id, " (", NodeKindName(info.kind), ")"));
  }
  return absl::OkStatus();
}

absl::Duration WorkerSessionService::SessionLiveness() const {
  // Two heartbeats missed: the older session's worker is gone (or cut off), not merely slow.
  return 2 * heartbeat_interval_ + absl::Seconds(1);
}

grpc::Status WorkerSessionService::Connect(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<SchedulerMessage, WorkerMessage>* stream) {
  WorkerMessage first;
  if (!stream->Read(&first)) return grpc::Status::OK;
  if (!first.has_registration()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message of a worker session must be a registration");
  }
  absl::StatusOr<NodeInfo> info = NodeInfoFromProto(first.registration());
  if (!info.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(info.status().message()));
  }
  if (absl::Status allowed = CheckIdentity(*context, *info); !allowed.ok()) {
    spdlog::warn("refused a worker session from {}: {}", context->peer(),
                 std::string(allowed.message()));
    if (metrics_ != nullptr) {
      metrics_->SessionRefused();
      metrics_->CallRefused("session", allowed.code());
    }
    return ToGrpcStatus(allowed);
  }
  auto session = std::make_shared<Session>(info->id);
  // The welcome goes first; the core's first assignment (sent while it registers the node)
  // queues behind it.
  SchedulerMessage welcome;
  welcome.mutable_registered()->set_heartbeat_interval_seconds(
      absl::ToDoubleSeconds(heartbeat_interval_));
  session->Enqueue(std::move(welcome));
  // Before registering, so the core's first assignment finds it.
  if (absl::Status attached = hub_->Attach(session, SessionLiveness()); !attached.ok()) {
    spdlog::warn("refused a worker session from {}: {}", context->peer(),
                 std::string(attached.message()));
    if (metrics_ != nullptr) {
      metrics_->SessionRefused();
      metrics_->CallRefused("session", attached.code());
    }
    return ToGrpcStatus(attached);
  }
  const cosched::v1::RegisterWorker& reg = first.registration();
  const std::optional<JobId> running =
      reg.running_job().empty() ? std::nullopt : std::optional<JobId>(reg.running_job());
  const absl::Status registered = runner_->Call("register_node", [&](SchedulerCore& core) {
    return core.RegisterNode(*info, running, reg.running_generation());
  });
  if (!registered.ok()) {
    hub_->Detach(session);
    if (metrics_ != nullptr) metrics_->SessionRefused();
    return ToGrpcStatus(registered);
  }
  if (metrics_ != nullptr) metrics_->SessionOpened();
  spdlog::info("worker {} ({}) connected from {}", info->id, NodeKindName(info->kind),
               context->peer());

  // Reader: hands messages to the core; ends the session when the worker goes away. Drain
  // tasks still queued when the session ends deliver the last heartbeats: they share the
  // mailbox.
  auto mailbox = std::make_shared<HeartbeatMailbox>();
  std::thread reader([&, node = info->id] {
    WorkerMessage message;
    while (stream->Read(&message)) {
      session->Heard();
      if (message.has_heartbeat()) {
        ForwardHeartbeat(session, mailbox, message.heartbeat());
      } else if (message.has_inference_result()) {
        hub_->CompleteInference(node, message.inference_result());
      } else if (message.has_weights_upload()) {
        ForwardWeights(node, message.weights_upload());
      }
    }
    session->Close();
  });
  // Writer: this handler thread.
  while (std::optional<SchedulerMessage> out = session->Next()) {
    if (!stream->Write(*out)) break;
  }
  session->Close();
  context->TryCancel();  // unblocks the reader if the writer ended first
  reader.join();
  // Queued behind the session's last heartbeats, so the core hears them first. A session
  // replaced by the node's newer one says nothing about the node.
  const bool current = hub_->Detach(session);
  if (current) {
    runner_->Post("node_disconnected",
                  [node = info->id](SchedulerCore& core) { core.NodeDisconnected(node); });
  }
  if (metrics_ != nullptr) metrics_->SessionClosed(/*replaced=*/!current);
  spdlog::info("worker {} disconnected", info->id);
  return grpc::Status::OK;
}

}  // namespace cosched::scheduler
