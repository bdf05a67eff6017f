// File: worker/inference/compute_token.h
// ComputeToken: who may use this rank's compute right now, the trainer or inference.
// Inference has priority. The trainer asks before every micro-batch (a yield point) and is
// refused while inference waits or runs; it then stops computing for this step and joins the
// step's allreduce with what it finished, so its peers never wait on it. Inference waits at
// most for the micro-batch in progress.
#pragma once

#include <atomic>

#include "absl/time/time.h"
#include "common/mutex.h"

namespace cosched::worker {

class ComputeToken {
 public:
  // Trainer side. TryEnterTraining is the yield point: false means "inference wants the
  // compute, stop here". A true must be paired with ExitTraining after the micro-batch.
  bool TryEnterTraining() ABSL_LOCKS_EXCLUDED(mu_);
  void ExitTraining() ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks while inference waits or runs, then enters (for work that must finish, such as
  // evaluation, and for a lone rank that has nobody to keep in step with).
  void EnterTraining() ABSL_LOCKS_EXCLUDED(mu_);

  // Inference side: blocks until no micro-batch is running, then holds the compute until
  // ExitInference. Several inference threads take turns.
  void EnterInference() ABSL_LOCKS_EXCLUDED(mu_);
  void ExitInference() ABSL_LOCKS_EXCLUDED(mu_);

  // True while inference waits for or holds the compute (cheap; for the trainer's loop).
  bool inference_pending() const { return inference_pending_.load(std::memory_order_acquire); }

 private:
  Mutex mu_;
  CondVar changed_;
  bool training_ ABSL_GUARDED_BY(mu_) = false;
  bool inferring_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_inference_ ABSL_GUARDED_BY(mu_) = 0;
  // Mirrors (waiting_inference_ > 0 || inferring_) for lock-free reads.
  std::atomic<bool> inference_pending_{false};
};

}  // namespace cosched::worker
