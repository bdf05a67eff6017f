// File: common/clock.h
// Clock: the only way cosched code that must be testable reads time and waits for time to
// pass. RealClock reads the system clock and waits on condition variables; SimClock only
// moves when told to, so scheduler/core and the simulator run in virtual time and tests
// never sleep. Await lets code that blocks (FakeCollectiveNetwork) wait in either kind of
// time. The deterministic simulation of the control plane (sim/control_plane) runs on a
// SimClock with no threads at all: everything there is an event.
#pragma once

#include "absl/functional/function_ref.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace cosched {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // Blocks until `ready()` holds or `deadline` (in this clock's time) passes, and returns
  // ready(). `mu` is held on entry, released while waiting, and held whenever ready() runs
  // and on return. Whoever makes ready() true under `mu` signals `cv`: RealClock sleeps on
  // it, a simulated clock evaluates ready() itself whenever its world moves. Code that waits
  // this way (never on `cv` directly) runs unchanged in the deterministic simulation.
  virtual bool Await(Mutex* mu, CondVar* cv, absl::FunctionRef<bool()> ready,
                     absl::Time deadline) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
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
  // For tests in which another thread advances the clock: re-checks `ready()` whenever `cv`
  // is signalled and at least every millisecond of wall time, until the virtual deadline.
  bool Await(Mutex* mu, CondVar* cv, absl::FunctionRef<bool()> ready,
             absl::Time deadline) const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Advance(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  // Moves to `t`; a time in the past is ignored (virtual time never runs backwards).
  void AdvanceTo(absl::Time t) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched
