// File: common/event_loop.h
// EventLoop: one thread runs named handlers in order; other threads Post() work to it.
// scheduler/core runs on one of these, so its state needs no locks. Time comes from an
// injected Clock: with a RealClock, Start() runs a thread that fires timers as they come due;
// with a SimClock, the simulator or a test moves the clock and calls RunDue().
// Every handler has a name, and the loop keeps per-name run counts and durations.
//
// Posting must stay cheap under load: many gRPC threads post to one loop. The loop thread
// therefore takes every posted event under one lock acquisition and runs the batch outside
// the lock, and it keeps the per-handler stats behind a lock of their own that posters never
// take. (With a lock per event, std::mutex's unfairness let a few posters win again and
// again while others waited for seconds: docs/benchmarks.md, "Why the service lost live
// sessions, and the fix".)
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

  // Runs `fn` as soon as possible: after every event posted before it, and before any timer.
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

  // Updated once per batch, so a handler's run shows up when its batch has finished.
  std::map<std::string, HandlerStats> Stats() const ABSL_LOCKS_EXCLUDED(stats_mu_);

 private:
  struct Event {
    std::string name;
    Handler fn;
  };
  using Key = std::pair<absl::Time, uint64_t>;  // (due time, post sequence)
  using Batch = std::vector<Event>;

  void RunThread() ABSL_LOCKS_EXCLUDED(mu_);
  // Whether TakeDue would take anything at `now`.
  bool HasDue(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves what runs next into the empty `batch`: every posted event, or, when none is
  // posted, the earliest timer due at `now`. Timers go one at a time so that events their
  // handlers post run before the next timer, as "earliest first" asks.
  void TakeDue(absl::Time now, Batch* batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs `batch` in order outside the lock and empties it; stops early once Stop() was called.
  // Returns how many ran.
  int RunBatch(Batch* batch) ABSL_LOCKS_EXCLUDED(mu_, stats_mu_);

  Clock* const clock_;
  mutable Mutex mu_;  // posters and the loop; held only to move events in or out
  CondVar wakeup_;
  Batch posted_ ABSL_GUARDED_BY(mu_);  // Post()ed events, in post order: due before any timer
  std::map<Key, Event> timers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  // Written under mu_ (the thread's wait checks it there); read without it between handlers.
  std::atomic<bool> stopping_{false};
  mutable Mutex stats_mu_;  // the loop (once per batch) and Stats() readers, never posters
  std::map<std::string, HandlerStats> stats_ ABSL_GUARDED_BY(stats_mu_);
  std::thread thread_;  // Touched only by Start/Stop, which the owner calls from one thread.
};

}  // namespace cosched
