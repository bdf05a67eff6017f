// File: common/clock.h
// Clock: the only way cosched code that must be testable reads time. RealClock reads the
// system clock; SimClock only moves when told to, so scheduler/core and the simulator run in
// virtual time and tests never sleep.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace cosched {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance; RealClock has no state, so sharing it is safe.
  static RealClock* Get();
};

// Virtual time. Thread-safe, so a test thread may advance it while another reads it.
class SimClock final : public Clock {
 public:
  explicit SimClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}
  absl::Time Now() const override ABSL_LOCKS_EXCLUDED(mu_);
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  // Moves to `t`; a time in the past is ignored (virtual time never runs backwards).
  void AdvanceTo(absl::Time t) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched
