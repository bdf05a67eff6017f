// File: worker/agent/scheduler_membership.cc
#include "worker/agent/scheduler_membership.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched::worker {

bool SchedulerMembership::Offer(const cosched::v1::Assignment& assignment) {
  if (assignment.job_id() != job_id_) return false;
  {
    MutexLock lock(&mu_);
    if (revoked_) return false;
    assignments_[assignment.generation()] = assignment;
    changed_.SignalAll();
  }
  StopSuperseded(assignment.generation());
  return true;
}

void SchedulerMembership::Revoke(const cosched::v1::Revocation& revocation) {
  if (revocation.job_id() != job_id_) return;
  {
    MutexLock lock(&mu_);
    revoked_ = true;
    revoked_reason_ = revocation.reason();
    changed_.SignalAll();
  }
  StopSuperseded(std::numeric_limits<int64_t>::max());
}

void SchedulerMembership::StopSuperseded(int64_t generation) {
  std::vector<std::stop_source> superseded;
  {
    MutexLock lock(&mu_);
    for (auto it = forming_.begin(); it != forming_.end() && it->first < generation;) {
      superseded.push_back(it->second);
      it = forming_.erase(it);
    }
  }
  for (std::stop_source& source : superseded) source.request_stop();
}

std::stop_token SchedulerMembership::SupersededToken(int64_t generation) {
  MutexLock lock(&mu_);
  if (Decided(generation)) {
    std::stop_source stopped;
    stopped.request_stop();
    return stopped.get_token();
  }
  return forming_[generation].get_token();
}

void SchedulerMembership::GenerationFailed(int64_t generation, const absl::Status& why) {
  if (on_generation_failed_) on_generation_failed_(generation, why);
}

int64_t SchedulerMembership::PendingGeneration() const {
  MutexLock lock(&mu_);
  if (revoked_) return std::numeric_limits<int32_t>::max();  // everyone must move on
  return assignments_.empty() ? -1 : assignments_.rbegin()->first;
}

Membership SchedulerMembership::FromAssignment(const cosched::v1::Assignment& assignment) {
  Membership membership;
  membership.generation = assignment.generation();
  membership.rank = assignment.rank();
  membership.world_size = assignment.world();
  return membership;
}

bool SchedulerMembership::Decided(int64_t newer_than) const {
  return revoked_ || (!assignments_.empty() && assignments_.rbegin()->first > newer_than);
}

absl::StatusOr<Membership> SchedulerMembership::Next(const Membership& current,
                                                     int64_t newer_than) {
  MutexLock lock(&mu_);
  const absl::Time deadline = absl::Now() + wait_limit_;
  newer_than = std::max(newer_than, current.generation);
  while (!Decided(newer_than)) {
    if (changed_.WaitWithDeadline(&mu_, deadline)) {
      return absl::DeadlineExceededError(
          absl::StrCat("no assignment after generation ", newer_than, " of job ", job_id_,
                       " from the scheduler within ", absl::FormatDuration(wait_limit_)));
    }
  }
  return Decide(current);
}

absl::StatusOr<std::optional<Membership>> SchedulerMembership::TryNext(const Membership& current,
                                                                       int64_t newer_than) {
  MutexLock lock(&mu_);
  if (!Decided(std::max(newer_than, current.generation))) return std::nullopt;
  ASSIGN_OR_RETURN(Membership next, Decide(current));
  return next;
}

absl::StatusOr<Membership> SchedulerMembership::Decide(const Membership& current) const {
  if (revoked_) return absl::CancelledError(absl::StrCat("revoked: ", revoked_reason_));
  // Compose the rank maps of every generation after `current` up to the newest.
  std::vector<int> new_rank_of_old(current.world_size);
  for (int r = 0; r < current.world_size; ++r) new_rank_of_old[r] = r;
  const cosched::v1::Assignment* latest = nullptr;
  for (auto it = assignments_.upper_bound(current.generation); it != assignments_.end(); ++it) {
    const cosched::v1::Assignment& step = it->second;
    // previous_rank[new] = old (within consecutive generations); invert it.
    std::vector<int> next_of_previous;
    for (int new_rank = 0; new_rank < step.previous_rank_size(); ++new_rank) {
      const int old_rank = step.previous_rank(new_rank);
      if (old_rank < 0) continue;
      if (static_cast<int>(next_of_previous.size()) <= old_rank) {
        next_of_previous.resize(old_rank + 1, -1);
      }
      next_of_previous[old_rank] = new_rank;
    }
    for (int& mapped : new_rank_of_old) {
      mapped = mapped >= 0 && mapped < static_cast<int>(next_of_previous.size())
                   ? next_of_previous[mapped]
                   : -1;
    }
    latest = &step;
  }
  Membership next = FromAssignment(*latest);
  next.new_rank_of_old = std::move(new_rank_of_old);
  return next;
}

}  // namespace cosched::worker
