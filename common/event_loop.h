// File: common/event_loop.h
// EventLoop: one thread runs named handlers in order; other threads Post() work to it.
// scheduler/core runs on one of these, so its state needs no locks. Time comes from an
// injected Clock: with a RealClock, Start() runs a thread that fires timers as they come due;
// with a SimClock, the simulator or a test moves the clock and calls RunDue().
// Every handler has a name, and the loop keeps per-name run counts and durations.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace cosched {

class EventLoop {
 public:
  using Handler = absl::AnyInvocable<void() &&>;

  struct HandlerStats {
    int64_t runs = 0;
    absl::Duration total = absl::ZeroDuration();
    absl::Duration max = absl::ZeroDuration();
  };

  explicit EventLoop(Clock* clock);
  ~EventLoop();  // Stops the thread if Start() was called.
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs `fn` as soon as possible, after every event already due.
  void Post(absl::string_view name, Handler fn) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `fn` once the clock reads `when` or later.
  void PostAt(absl::string_view name, absl::Time when, Handler fn) ABSL_LOCKS_EXCLUDED(mu_);
  void PostAfter(absl::string_view name, absl::Duration delay, Handler fn) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs every event due at clock->Now(), earliest first and in post order among equals,
  // including events that those handlers post for now. Returns how many ran.
  int RunDue() ABSL_LOCKS_EXCLUDED(mu_);
  // When the earliest pending event is due, if any.
  std::optional<absl::Time> NextDue() const ABSL_LOCKS_EXCLUDED(mu_);

  // Real-time mode: starts the loop thread (owned and joined by Stop or the destructor).
  // Only valid with a clock that follows wall time.
  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the thread after the handler running now, if any; pending events are dropped.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  std::map<std::string, HandlerStats> Stats() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Event {
    std::string name;
    Handler fn;
  };
  using Key = std::pair<absl::Time, uint64_t>;  // (due time, post sequence)

  void RunThread() ABSL_LOCKS_EXCLUDED(mu_);
  // Removes and returns the earliest event due at `now`, if any.
  std::optional<Event> PopDue(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunOne(Event event) ABSL_LOCKS_EXCLUDED(mu_);

  Clock* const clock_;
  mutable Mutex mu_;
  CondVar wakeup_;
  std::map<Key, Event> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, HandlerStats> stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // Touched only by Start/Stop, which the owner calls from one thread.
};

}  // namespace cosched
