// File: scheduler/service/session_hub.cc
#include "scheduler/service/session_hub.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace cosched::scheduler {

bool Session::Enqueue(cosched::v1::SchedulerMessage message) {
  MutexLock lock(&mu_);
  if (closed_) return false;
  queue_.push_back(std::move(message));
  ready_.SignalAll();
  return true;
}

std::optional<cosched::v1::SchedulerMessage> Session::Next() {
  MutexLock lock(&mu_);
  while (queue_.empty() && !closed_) ready_.Wait(&mu_);
  if (queue_.empty()) return std::nullopt;
  cosched::v1::SchedulerMessage message = std::move(queue_.front());
  queue_.pop_front();
  return message;
}

void Session::Close() {
  MutexLock lock(&mu_);
  closed_ = true;
  ready_.SignalAll();
}

void Session::Heard() {
  MutexLock lock(&mu_);
  last_heard_ = absl::Now();
}

bool Session::AliveWithin(absl::Duration window) const {
  MutexLock lock(&mu_);
  return !closed_ && absl::Now() - last_heard_ < window;
}

absl::Status SessionHub::Attach(const std::shared_ptr<Session>& session, absl::Duration liveness) {
  std::shared_ptr<Session> replaced;
  {
    MutexLock lock(&mu_);
    std::shared_ptr<Session>& slot = sessions_[session->node()];
    if (slot != nullptr && slot->AliveWithin(liveness)) {
      return absl::AlreadyExistsError(
          absl::StrCat("node ", session->node(),
                       " already has a live session; a second one is refused (it is replaced "
                       "only once silent for ",
                       absl::FormatDuration(liveness), ")"));
    }
    replaced = std::move(slot);
    slot = session;
  }
  if (replaced != nullptr) replaced->Close();
  return absl::OkStatus();
}

bool SessionHub::Detach(const std::shared_ptr<Session>& session) {
  MutexLock lock(&mu_);
  auto it = sessions_.find(session->node());
  if (it == sessions_.end() || it->second != session) return false;
  sessions_.erase(it);
  return true;
}

bool SessionHub::Send(const NodeId& node, cosched::v1::SchedulerMessage message) {
  std::shared_ptr<Session> session;
  {
    MutexLock lock(&mu_);
    auto it = sessions_.find(node);
    if (it == sessions_.end()) return false;
    session = it->second;
  }
  return session->Enqueue(std::move(message));
}

cosched::v1::Assignment AssignmentMessage(const Assignment& assignment) {
  cosched::v1::Assignment out;
  out.set_job_id(assignment.job);
  out.set_generation(assignment.generation);
  out.set_rank(assignment.rank);
  out.set_world(assignment.world);
  out.set_store_prefix(assignment.store_prefix);
  out.set_edge_tier(assignment.edge_tier);
  for (int r : assignment.previous_rank) out.add_previous_rank(r);
  out.set_restore_from_checkpoint(assignment.restore_from_checkpoint);
  out.set_job_yaml(assignment.job_yaml);
  out.set_reason(assignment.reason);
  return out;
}

void SessionHub::Assign(const NodeId& node, const Assignment& assignment) {
  cosched::v1::SchedulerMessage message;
  *message.mutable_assignment() = AssignmentMessage(assignment);
  Send(node, std::move(message));  // a node without a session gets it when it registers
}

void SessionHub::Revoke(const NodeId& node, const Revocation& revocation) {
  cosched::v1::SchedulerMessage message;
  if (revocation.budget > absl::ZeroDuration()) {
    cosched::v1::PreemptionNotice& notice = *message.mutable_preemption_notice();
    notice.set_job_id(revocation.job);
    notice.set_generation(revocation.generation);
    notice.set_budget_seconds(absl::ToDoubleSeconds(revocation.budget));
    notice.set_reason(revocation.reason);
    Send(node, std::move(message));
    return;
  }
  cosched::v1::Revocation& out = *message.mutable_revocation();
  out.set_job_id(revocation.job);
  out.set_generation(revocation.generation);
  out.set_reason(revocation.reason);
  Send(node, std::move(message));
}

void SessionHub::LoadModel(const NodeId& node, const ModelLoad& load) {
  cosched::v1::SchedulerMessage message;
  cosched::v1::LoadModel& out = *message.mutable_load_model();
  // The core holds the weights as the bytes the service checked when they arrived.
  if (load.weights == nullptr || !out.mutable_weights()->ParseFromString(*load.weights)) {
    spdlog::error("not loading {} version {} onto {}: its kept weights do not parse", load.model,
                  load.version, node);
    return;
  }
  out.set_reason(load.reason);
  Send(node, std::move(message));
}

void SessionHub::RequestWeights(const NodeId& node, const WeightsRequest& request) {
  cosched::v1::SchedulerMessage message;
  message.mutable_send_weights()->set_model(request.model);
  message.mutable_send_weights()->set_version(request.version);
  Send(node, std::move(message));
}

absl::StatusOr<cosched::v1::InferReply> SessionHub::Infer(const NodeId& node,
                                                          cosched::v1::InferenceWork work,
                                                          absl::Time deadline) {
  auto pending = std::make_shared<PendingInference>();
  pending->node = node;
  uint64_t id = 0;
  {
    MutexLock lock(&mu_);
    id = next_request_++;
    pending_[id] = pending;
  }
  cosched::v1::SchedulerMessage message;
  work.set_request_id(id);
  *message.mutable_inference_work() = std::move(work);
  std::optional<cosched::v1::InferenceResult> result;
  if (Send(node, std::move(message))) {
    MutexLock lock(&pending->mu);
    while (!pending->result.has_value()) {
      if (pending->done_cv.WaitWithDeadline(&pending->mu, deadline)) break;
    }
    result = pending->result;
  }
  {
    MutexLock lock(&mu_);
    pending_.erase(id);
  }
  if (!result.has_value()) {
    return absl::DeadlineExceededError(
        absl::StrCat("node ", node, " did not answer the inference request in time"));
  }
  if (result->status_code() != 0) {
    return absl::Status(static_cast<absl::StatusCode>(result->status_code()),
                        absl::StrCat("node ", node, ": ", result->status_message()));
  }
  return result->reply();
}

bool SessionHub::CompleteInference(const NodeId& from, const cosched::v1::InferenceResult& result) {
  std::shared_ptr<PendingInference> pending;
  {
    MutexLock lock(&mu_);
    auto it = pending_.find(result.request_id());
    if (it == pending_.end()) return false;  // too late: the caller gave up
    pending = it->second;
  }
  if (pending->node != from) {
    spdlog::warn("dropped an answer to inference request {} from node {}: it was routed to {}",
                 result.request_id(), from, pending->node);
    return false;
  }
  MutexLock lock(&pending->mu);
  pending->result = result;
  pending->done_cv.SignalAll();
  return true;
}

}  // namespace cosched::scheduler
