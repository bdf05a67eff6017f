// File: worker/inference/compute_token.h
// ComputeToken: inference's claim on this rank's compute. Inference has priority and never
// waits for the trainer: the trainer thread runs at background CPU priority (see
// common/thread_priority.h), so the kernel gives an inference thread a core as soon as it
// wakes, even in the middle of a micro-batch. The claim tells the trainer to stop at its next
// yield point (between micro-batches): it stops computing for this step and joins the step's
// allreduce with what it finished, so its peers never wait on it and it does not compete
// with inference for the rest of the step.
#pragma once

#include <atomic>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace cosched::worker {

class ComputeToken {
 public:
  // Trainer side. The yield point: false means "inference claims the compute, stop here".
  // Lock-free, so checking it before every micro-batch costs nothing.
  bool TrainingMayRun() const;
  // Blocks while inference claims the compute (for work that must finish, such as
  // evaluation, and for a lone rank that has nobody to keep in step with).
  void WaitWhileInferenceClaims() const ABSL_LOCKS_EXCLUDED(mu_);
  // Like WaitWhileInferenceClaims, but gives up at `deadline`; true if the claims ended.
  bool WaitWhileInferenceClaims(absl::Time deadline) const ABSL_LOCKS_EXCLUDED(mu_);

  // Inference side: claims the compute for one request; never blocks. Claims nest (several
  // inference threads may hold one each).
  void BeginInference() ABSL_LOCKS_EXCLUDED(mu_);
  void EndInference() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable Mutex mu_;
  mutable CondVar released_;
  int claims_ ABSL_GUARDED_BY(mu_) = 0;
  // Mirrors claims_ > 0 for lock-free reads.
  std::atomic<bool> claimed_{false};
};

}  // namespace cosched::worker
