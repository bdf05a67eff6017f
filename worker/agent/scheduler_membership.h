// File: worker/agent/scheduler_membership.h
// SchedulerMembership: under the scheduler, the scheduler decides who trains. Assignments
// for this job arrive on the worker's session (Offer) and revocations end its part in it
// (Revoke). The trainer asks Next() when its group failed or when a member announced a newer
// generation in a step's allreduce; every member then moves to the same generation at the
// same step boundary.
//
// Under churn, generations can follow each other faster than a rendezvous completes: a
// generation being formed is abandoned the moment a newer one arrives (SupersededToken), and
// a generation that failed without this rank's fault is reported to the scheduler
// (GenerationFailed, carried by the next heartbeat), which forms a newer one.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>

#include "common/mutex.h"
#include "proto/scheduler.pb.h"
#include "worker/trainer/membership.h"

namespace cosched::worker {

class SchedulerMembership final : public MembershipSource {
 public:
  // `wait_limit`: how long Next() waits for the scheduler's next assignment.
  // `on_generation_failed` (optional) hears GenerationFailed, to tell the scheduler at once.
  using FailureListener = std::function<void(int64_t generation, const absl::Status& why)>;
  SchedulerMembership(std::string job_id, absl::Duration wait_limit,
                      FailureListener on_generation_failed = nullptr)
      : job_id_(std::move(job_id)),
        wait_limit_(wait_limit),
        on_generation_failed_(std::move(on_generation_failed)) {}

  const std::string& job_id() const { return job_id_; }
  // False, and nothing changes, when the assignment is not for this run of the job: another
  // job's, or any after this membership was revoked (the scheduler re-admitted the job: a
  // new run, which the caller starts once this one has ended).
  bool Offer(const cosched::v1::Assignment& assignment) ABSL_LOCKS_EXCLUDED(mu_);
  void Revoke(const cosched::v1::Revocation& revocation) ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<Membership> Next(const Membership& numbered, int64_t newer_than) override
      ABSL_LOCKS_EXCLUDED(mu_);
  // Next() without the wait: nullopt while no generation newer than `newer_than` has been
  // assigned (the deterministic simulation, sim/, calls it when a message arrives instead of
  // blocking a thread).
  absl::StatusOr<std::optional<Membership>> TryNext(const Membership& numbered, int64_t newer_than)
      ABSL_LOCKS_EXCLUDED(mu_);
  int64_t PendingGeneration() const override ABSL_LOCKS_EXCLUDED(mu_);
  std::stop_token SupersededToken(int64_t generation) override ABSL_LOCKS_EXCLUDED(mu_);
  bool ReplacesFailedGenerations() const override { return true; }
  void GenerationFailed(int64_t generation, const absl::Status& why) override;

  // The membership an assignment describes, as a starting point (generation 0 or a join).
  static Membership FromAssignment(const cosched::v1::Assignment& assignment);

 private:
  // Stops the sources of generations older than `generation` (all on revocation); called
  // without mu_, as stop callbacks run inline and may take the rendezvous' locks.
  void StopSuperseded(int64_t generation) ABSL_LOCKS_EXCLUDED(mu_);
  // Whether Next() has something to return: a newer assignment, or the revocation.
  bool Decided(int64_t newer_than) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What Next() returns once Decided().
  absl::StatusOr<Membership> Decide(const Membership& numbered) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string job_id_;
  const absl::Duration wait_limit_;
  const FailureListener on_generation_failed_;
  mutable Mutex mu_;
  CondVar changed_;
  // Every assignment seen, by generation: ranks are mapped across skipped generations by
  // composing their previous_rank tables.
  std::map<int64_t, cosched::v1::Assignment> assignments_ ABSL_GUARDED_BY(mu_);
  std::string revoked_reason_ ABSL_GUARDED_BY(mu_);
  bool revoked_ ABSL_GUARDED_BY(mu_) = false;
  // Stop sources handed out by SupersededToken, for generations not yet superseded.
  std::map<int64_t, std::stop_source> forming_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::worker
