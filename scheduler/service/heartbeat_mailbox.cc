// File: scheduler/service/heartbeat_mailbox.cc
#include "scheduler/service/heartbeat_mailbox.h"

#include <utility>

namespace cosched::scheduler {
namespace {

// job_finished and failure: after either, the core takes the node out of its job.
bool EndsJob(const Heartbeat& heartbeat) {
  return heartbeat.job_finished || !heartbeat.failure.empty();
}

// The progress the core would keep after `older`'s then `newer`'s: it applies a report only
// when its step is not behind the job's, so the later of two regressing reports is a no-op.
std::optional<JobProgress> LaterProgress(std::optional<JobProgress> older,
                                         std::optional<JobProgress> newer) {
  if (!newer.has_value()) return older;
  if (older.has_value() && older->step > newer->step) return older;
  return newer;
}

}  // namespace

Heartbeat MergeHeartbeats(Heartbeat older, Heartbeat newer) {
  Heartbeat merged = std::move(newer);
  if (merged.service_per_image <= absl::ZeroDuration()) {
    merged.service_per_image = older.service_per_image;
  }
  if (EndsJob(older)) {
    merged.progress = std::move(older.progress);
    merged.job_finished = older.job_finished;
    merged.failure = std::move(older.failure);
  } else {
    merged.progress = LaterProgress(std::move(older.progress), std::move(merged.progress));
  }
  return merged;
}

bool HeartbeatMailbox::Put(Heartbeat heartbeat) {
  MutexLock lock(&mu_);
  if (waiting_.has_value()) {
    waiting_ = MergeHeartbeats(std::move(*waiting_), std::move(heartbeat));
  } else {
    waiting_ = std::move(heartbeat);
  }
  ++count_;
  if (drain_queued_) return false;
  drain_queued_ = true;
  return true;
}

std::optional<HeartbeatMailbox::Batch> HeartbeatMailbox::Take() {
  MutexLock lock(&mu_);
  drain_queued_ = false;
  if (!waiting_.has_value()) return std::nullopt;
  Batch batch{std::move(*waiting_), count_};
  waiting_.reset();
  count_ = 0;
  return batch;
}

}  // namespace cosched::scheduler
