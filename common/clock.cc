// File: common/clock.cc
#include "common/clock.h"

namespace cosched {

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
