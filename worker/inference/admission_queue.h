// File: worker/inference/admission_queue.h
// AdmissionQueue: inference requests ordered earliest-deadline-first, with admission
// control. A request is admitted only if, by the current estimates, it can finish before its
// deadline:
//   now + preemption bound + service of every queued request due no later than it
//       + its own service  <=  deadline
// and admitting it must not push an already admitted request past its own deadline.
// Otherwise it is refused at once with the numbers behind the decision. Service time per
// image is measured (an exponentially weighted average of real computes).
// One request is served at a time: by the executor (PopEarliest) or, when nothing is queued
// or being served, by the caller itself (TryServeNow), which saves two thread hand-offs.
// Time comes from an injected Clock so tests run in virtual time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace cosched::worker {

struct AdmissionOptions {
  // Upper bound on waiting for the trainer to reach a yield point (one micro-batch).
  absl::Duration preemption_bound = absl::Milliseconds(2);
  // Service estimate per image before anything was measured.
  absl::Duration initial_service_per_image = absl::Microseconds(200);
  // Fixed cost per request (dispatch, copying the reply) on top of per-image service.
  absl::Duration service_overhead = absl::Microseconds(100);
  size_t max_queue = 1024;
  double ewma_weight = 0.1;  // weight of the newest measurement
};

template <typename Item>
class AdmissionQueue {
 public:
  struct Entry {
    absl::Time arrival;
    absl::Time deadline;
    int images;
    Item item;
  };

  AdmissionQueue(const Clock* clock, AdmissionOptions options) : clock_(clock), options_(options) {}

  // Admits `item` or returns RESOURCE_EXHAUSTED naming why it cannot meet `deadline`.
  absl::Status Admit(absl::Time arrival, absl::Time deadline, int images, Item item)
      ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    if (closed_) return absl::UnavailableError("inference queue is shut down");
    if (queue_.size() >= options_.max_queue) {
      return absl::ResourceExhaustedError("inference queue is full");
    }
    const absl::Time now = clock_->Now();
    const absl::Duration own = ServiceEstimate(images);
    // The request being served now, if any, finishes first.
    absl::Duration ahead = std::max(busy_until_ - now, absl::ZeroDuration());
    for (const auto& [key, entry] : queue_) {
      if (key.first > deadline) break;
      ahead += ServiceEstimate(entry.images);
    }
    const absl::Time finish = now + options_.preemption_bound + ahead + own;
    if (finish > deadline) {
      return absl::ResourceExhaustedError(
          Explain("cannot meet deadline", now, deadline, ahead, own));
    }
    // Everything due after this request is delayed by `own`: it must still fit.
    absl::Duration before = ahead + own;
    for (auto it = queue_.upper_bound({deadline, UINT64_MAX}); it != queue_.end(); ++it) {
      before += ServiceEstimate(it->second.images);
      if (now + options_.preemption_bound + before > it->second.deadline) {
        return absl::ResourceExhaustedError(
            Explain("admitting it would make an earlier-admitted request miss its deadline", now,
                    deadline, ahead, own));
      }
    }
    queue_.emplace(std::make_pair(deadline, next_sequence_++),
                   Entry{arrival, deadline, images, std::move(item)});
    nonempty_.Signal();
    return absl::OkStatus();
  }

  // Admits a request for the caller to serve at once, when nothing is queued or being served
  // and it meets `deadline` by the estimates: true means "serve it now, then RecordService".
  // False admits nothing: the caller goes through Admit, which queues it or says why not.
  bool TryServeNow(absl::Time deadline, int images) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    if (closed_ || serving_ || !queue_.empty()) return false;
    const absl::Time now = clock_->Now();
    const absl::Duration own = ServiceEstimate(images);
    if (now + options_.preemption_bound + own > deadline) return false;
    serving_ = true;
    busy_until_ = now + own;
    return true;
  }

  // The admitted request with the earliest deadline, once nothing else is being served;
  // blocks until then or Close().
  std::optional<Entry> PopEarliest() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    while ((queue_.empty() || serving_) && !closed_) nonempty_.Wait(&mu_);
    if (queue_.empty()) return std::nullopt;
    auto node = queue_.extract(queue_.begin());
    serving_ = true;
    busy_until_ = clock_->Now() + ServiceEstimate(node.mapped().images);
    return std::move(node.mapped());
  }

  // Feeds a measured compute time into the service estimate; the request PopEarliest or
  // TryServeNow handed out is done.
  void RecordService(int images, absl::Duration took) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    serving_ = false;
    busy_until_ = absl::InfinitePast();
    nonempty_.Signal();  // the executor may be waiting for the request being served
    if (images <= 0) return;
    const absl::Duration per_image = (took - options_.service_overhead) / images;
    const absl::Duration sample = std::max(per_image, absl::ZeroDuration());
    per_image_ = measured_ ? per_image_ * (1 - options_.ewma_weight) + sample * options_.ewma_weight
                           : sample;
    measured_ = true;
  }

  // Wakes PopEarliest callers; later Admit calls fail. Queued entries remain for PopEarliest.
  void Close() ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    closed_ = true;
    nonempty_.SignalAll();
  }

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return queue_.size();
  }
  // How long a request arriving now would wait before its own service starts, by the
  // estimates: the rest of the request being served plus every queued one. The scheduler
  // routes by it (heartbeats carry it), so it leaves the preemption bound out: that is the
  // scheduler's to add for a training node.
  absl::Duration Backlog() const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    absl::Duration backlog = std::max(busy_until_ - clock_->Now(), absl::ZeroDuration());
    for (const auto& [key, entry] : queue_) backlog += ServiceEstimate(entry.images);
    return backlog;
  }
  absl::Duration service_per_image() const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return measured_ ? per_image_ : options_.initial_service_per_image;
  }

 private:
  absl::Duration ServiceEstimate(int images) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Duration per_image = measured_ ? per_image_ : options_.initial_service_per_image;
    return options_.service_overhead + per_image * images;
  }
  std::string Explain(absl::string_view what, absl::Time now, absl::Time deadline,
                      absl::Duration ahead, absl::Duration own) const {
    return absl::StrCat(what, ": budget ", absl::FormatDuration(deadline - now), " < preemption ",
                        absl::FormatDuration(options_.preemption_bound), " + queue ",
                        absl::FormatDuration(ahead), " + service ", absl::FormatDuration(own));
  }

  const Clock* const clock_;
  const AdmissionOptions options_;
  mutable Mutex mu_;
  CondVar nonempty_;
  std::map<std::pair<absl::Time, uint64_t>, Entry> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration per_image_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  bool measured_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool serving_ ABSL_GUARDED_BY(mu_) = false;  // a request is being served
  absl::Time busy_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace cosched::worker
