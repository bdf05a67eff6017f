// File: worker/inference/compute_token.cc
#include "worker/inference/compute_token.h"

namespace cosched::worker {

bool ComputeToken::TryEnterTraining() {
  // Fast path: the common case (no inference) takes no lock contention with inference.
  if (inference_pending_.load(std::memory_order_acquire)) return false;
  MutexLock lock(&mu_);
  if (inferring_ || waiting_inference_ > 0) return false;
  training_ = true;
  return true;
}

void ComputeToken::ExitTraining() {
  MutexLock lock(&mu_);
  training_ = false;
  changed_.SignalAll();
}

void ComputeToken::EnterTraining() {
  MutexLock lock(&mu_);
  while (inferring_ || waiting_inference_ > 0) changed_.Wait(&mu_);
  training_ = true;
}

void ComputeToken::EnterInference() {
  MutexLock lock(&mu_);
  ++waiting_inference_;
  inference_pending_.store(true, std::memory_order_release);
  while (training_ || inferring_) changed_.Wait(&mu_);
  --waiting_inference_;
  inferring_ = true;
}

void ComputeToken::ExitInference() {
  MutexLock lock(&mu_);
  inferring_ = false;
  inference_pending_.store(waiting_inference_ > 0, std::memory_order_release);
  changed_.SignalAll();
}

}  // namespace cosched::worker
