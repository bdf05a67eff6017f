// File: worker/agent/scheduler_membership.h
// SchedulerMembership: under the scheduler, the scheduler decides who trains. Assignments
// for this job arrive on the worker's session (Offer) and revocations end its part in it
// (Revoke). The trainer asks Next() when its group failed or when a member announced a newer
// generation in a step's allreduce; every member then moves to the same generation at the
// same step boundary.
#pragma once

#include <map>
#include <string>

#include "common/mutex.h"
#include "proto/scheduler.pb.h"
#include "worker/trainer/membership.h"

namespace cosched::worker {

class SchedulerMembership final : public MembershipSource {
 public:
  // `wait_limit`: how long Next() waits for the scheduler's next assignment.
  SchedulerMembership(std::string job_id, absl::Duration wait_limit)
      : job_id_(std::move(job_id)), wait_limit_(wait_limit) {}

  const std::string& job_id() const { return job_id_; }
  void Offer(const cosched::v1::Assignment& assignment) ABSL_LOCKS_EXCLUDED(mu_);
  void Revoke(const cosched::v1::Revocation& revocation) ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<Membership> Next(const Membership& current) override ABSL_LOCKS_EXCLUDED(mu_);
  int64_t PendingGeneration() const override ABSL_LOCKS_EXCLUDED(mu_);

  // The membership an assignment describes, as a starting point (generation 0 or a join).
  static Membership FromAssignment(const cosched::v1::Assignment& assignment);

 private:
  const std::string job_id_;
  const absl::Duration wait_limit_;
  mutable Mutex mu_;
  CondVar changed_;
  // Every assignment seen, by generation: ranks are mapped across skipped generations by
  // composing their previous_rank tables.
  std::map<int64_t, cosched::v1::Assignment> assignments_ ABSL_GUARDED_BY(mu_);
  std::string revoked_reason_ ABSL_GUARDED_BY(mu_);
  bool revoked_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cosched::worker
