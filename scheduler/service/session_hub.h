// File: scheduler/service/session_hub.h
// SessionHub: the live worker sessions, by node id, and the outbox through which the core's
// decisions reach them. Each session has an outgoing queue that its own stream thread
// drains, so the core's loop thread never blocks on a slow worker. Inference work routed to
// a node also goes down its session; the answer comes back up it and completes the waiting
// Infer call here.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "proto/scheduler.pb.h"
#include "scheduler/core/scheduler_core.h"

namespace cosched::scheduler {

// One worker's stream, as seen by the code that writes to it.
class Session {
 public:
  explicit Session(NodeId node) : node_(std::move(node)), last_heard_(absl::Now()) {}
  const NodeId& node() const { return node_; }

  // The worker sent something: the session is alive.
  void Heard() ABSL_LOCKS_EXCLUDED(mu_);
  // Open, and heard from within `window`.
  bool AliveWithin(absl::Duration window) const ABSL_LOCKS_EXCLUDED(mu_);

  // Queues a message; false once the session is closed.
  bool Enqueue(cosched::v1::SchedulerMessage message) ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks for the next message; nullopt once closed and drained.
  std::optional<cosched::v1::SchedulerMessage> Next() ABSL_LOCKS_EXCLUDED(mu_);
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const NodeId node_;
  mutable Mutex mu_;
  absl::Time last_heard_ ABSL_GUARDED_BY(mu_);
  CondVar ready_;
  std::deque<cosched::v1::SchedulerMessage> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// The worker-session message for the core's assignment (the simulator sends the same).
cosched::v1::Assignment AssignmentMessage(const Assignment& assignment);

class SessionHub final : public CoreOutbox {
 public:
  // Makes `session` its node's current one. A node whose session is alive (heard from within
  // `liveness`) keeps it: the newer one is refused with ALREADY_EXISTS, so nobody takes over a
  // live node's session. An older session that is closed or silent (a half-open connection
  // after a partition or a NAT rebinding) is replaced and closed.
  absl::Status Attach(const std::shared_ptr<Session>& session, absl::Duration liveness)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Returns whether `session` was the node's current one (not replaced by a newer one).
  bool Detach(const std::shared_ptr<Session>& session) ABSL_LOCKS_EXCLUDED(mu_);

  // CoreOutbox (called on the core's loop thread).
  void Assign(const NodeId& node, const Assignment& assignment) override;
  void Revoke(const NodeId& node, const Revocation& revocation) override;
  void LoadModel(const NodeId& node, const ModelLoad& load) override;
  void RequestWeights(const NodeId& node, const WeightsRequest& request) override;

  // Sends `work` (its request id is set here) to `node` and waits for its answer until
  // `deadline`.
  absl::StatusOr<cosched::v1::InferReply> Infer(const NodeId& node, cosched::v1::InferenceWork work,
                                                absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);
  // A worker's answer to InferenceWork, from `from`: dropped (false) unless the request is
  // still waiting and was routed to that node.
  bool CompleteInference(const NodeId& from, const cosched::v1::InferenceResult& result)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct PendingInference {
    NodeId node;  // the node the request was routed to
    Mutex mu;
    CondVar done_cv;
    std::optional<cosched::v1::InferenceResult> result ABSL_GUARDED_BY(mu);
  };
  bool Send(const NodeId& node, cosched::v1::SchedulerMessage message) ABSL_LOCKS_EXCLUDED(mu_);

  Mutex mu_;
  std::map<NodeId, std::shared_ptr<Session>> sessions_ ABSL_GUARDED_BY(mu_);
  uint64_t next_request_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, std::shared_ptr<PendingInference>> pending_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::scheduler
