// File: common/clock.cc
#include "common/clock.h"

namespace cosched {

bool Clock::Await(Mutex* mu, CondVar* cv, absl::FunctionRef<bool()> ready,
                  absl::Time deadline) const {
  while (!ready()) {
    if (cv->WaitWithDeadline(mu, deadline)) return ready();
  }
  return true;
}

bool SimClock::Await(Mutex* mu, CondVar* cv, absl::FunctionRef<bool()> ready,
                     absl::Time deadline) const {
  while (!ready()) {
    if (Now() >= deadline) return false;
    cv->WaitWithDeadline(mu, absl::Now() + absl::Milliseconds(1));
  }
  return true;
}

RealClock* RealClock::Get() {
  static RealClock clock;  // stateless, so sharing one instance is safe
  return &clock;
}

absl::Time SimClock::Now() const {
  MutexLock lock(&mu_);
  return now_;
}

void SimClock::Advance(absl::Duration d) {
  MutexLock lock(&mu_);
  if (d > absl::ZeroDuration()) now_ += d;
}

void SimClock::AdvanceTo(absl::Time t) {
  MutexLock lock(&mu_);
  if (t > now_) now_ = t;
}

}  // namespace cosched
