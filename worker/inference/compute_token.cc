// File: worker/inference/compute_token.cc
#include "worker/inference/compute_token.h"

namespace cosched::worker {

bool ComputeToken::TrainingMayRun() const { return !claimed_.load(std::memory_order_acquire); }

void ComputeToken::WaitWhileInferenceClaims() const {
  MutexLock lock(&mu_);
  while (claims_ > 0) released_.Wait(&mu_);
}

bool ComputeToken::WaitWhileInferenceClaims(absl::Time deadline) const {
  MutexLock lock(&mu_);
  while (claims_ > 0) {
    if (released_.WaitWithDeadline(&mu_, deadline)) return claims_ == 0;
  }
  return true;
}

void ComputeToken::BeginInference() {
  MutexLock lock(&mu_);
  ++claims_;
  claimed_.store(true, std::memory_order_release);
}

void ComputeToken::EndInference() {
  MutexLock lock(&mu_);
  --claims_;
  if (claims_ > 0) return;
  claimed_.store(false, std::memory_order_release);
  released_.SignalAll();
}

}  // namespace cosched::worker
