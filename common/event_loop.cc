// File: common/event_loop.cc
#include "common/event_loop.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/logging.h"

namespace cosched {

EventLoop::EventLoop(Clock* clock) : clock_(clock) {}

EventLoop::~EventLoop() { Stop(); }

void EventLoop::Post(absl::string_view name, Handler fn) {
  PostAt(name, absl::InfinitePast(), std::move(fn));
}

void EventLoop::PostAfter(absl::string_view name, absl::Duration delay, Handler fn) {
  PostAt(name, clock_->Now() + delay, std::move(fn));
}

void EventLoop::PostAt(absl::string_view name, absl::Time when, Handler fn) {
  // Built before the lock: the name's copy may allocate, and posters should hold the lock
  // only for the move into the queue.
  Event event{std::string(name), std::move(fn)};
  MutexLock lock(&mu_);
  if (when == absl::InfinitePast()) {
    // "Now" is the earliest possible time, so posted work keeps FIFO order ahead of due
    // timers. Only the first post into an empty queue can find the loop asleep on it.
    const bool was_empty = posted_.empty();
    posted_.push_back(std::move(event));
    if (was_empty) wakeup_.Signal();
    return;
  }
  timers_.emplace(Key{when, next_sequence_++}, std::move(event));
  wakeup_.Signal();  // the loop may be waiting for a later deadline
}

bool EventLoop::HasDue(absl::Time now) const {
  return !posted_.empty() || (!timers_.empty() && timers_.begin()->first.first <= now);
}

void EventLoop::TakeDue(absl::Time now, Batch* batch) {
  if (!posted_.empty()) {
    // A swap, not a copy: the loop's emptied batch goes back as the posters' next queue,
    // so in a steady state neither side allocates.
    std::swap(posted_, *batch);
    return;
  }
  if (!timers_.empty() && timers_.begin()->first.first <= now) {
    batch->push_back(std::move(timers_.extract(timers_.begin()).mapped()));
  }
}

int EventLoop::RunBatch(Batch* batch) {
  // Timings are collected here, on the running thread alone, and merged into stats_ under
  // one lock acquisition per batch.
  std::vector<std::pair<std::string, absl::Duration>> timings;
  timings.reserve(batch->size());
  for (Event& event : *batch) {
    if (stopping_.load(std::memory_order_relaxed)) break;  // Stop drops what is left
    const auto start = std::chrono::steady_clock::now();
    std::move(event.fn)();
    timings.emplace_back(std::move(event.name),
                         absl::FromChrono(std::chrono::steady_clock::now() - start));
  }
  batch->clear();  // runs the destructors of dropped handlers, outside the lock
  {
    MutexLock lock(&stats_mu_);
    for (const auto& [name, took] : timings) {
      HandlerStats& stats = stats_[name];
      ++stats.runs;
      stats.total += took;
      stats.max = std::max(stats.max, took);
    }
  }
  return static_cast<int>(timings.size());
}

int EventLoop::RunDue() {
  int ran = 0;
  Batch batch;
  while (true) {
    {
      MutexLock lock(&mu_);
      TakeDue(clock_->Now(), &batch);
    }
    if (batch.empty()) return ran;
    ran += RunBatch(&batch);
  }
}

std::optional<absl::Time> EventLoop::NextDue() const {
  MutexLock lock(&mu_);
  if (!posted_.empty()) return absl::InfinitePast();
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first.first;
}

void EventLoop::Start() {
  COSCHED_CHECK(!thread_.joinable(), "EventLoop::Start called twice");
  {
    MutexLock lock(&mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { RunThread(); });
}

void EventLoop::Stop() {
  if (!thread_.joinable()) return;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    wakeup_.Signal();
  }
  thread_.join();
  Batch dropped;
  std::map<Key, Event> dropped_timers;
  {
    MutexLock lock(&mu_);
    std::swap(posted_, dropped);
    std::swap(timers_, dropped_timers);
  }
  // Destroyed here, outside the lock: a handler's captures may post or stop other loops.
}

void EventLoop::RunThread() {
  Batch batch;
  while (true) {
    {
      MutexLock lock(&mu_);
      absl::Time now = clock_->Now();
      while (!stopping_ && !HasDue(now)) {
        if (timers_.empty()) {
          wakeup_.Wait(&mu_);
        } else {
          wakeup_.WaitWithDeadline(&mu_, timers_.begin()->first.first);
        }
        now = clock_->Now();
      }
      if (stopping_) return;
      TakeDue(now, &batch);
    }
    RunBatch(&batch);
  }
}

std::map<std::string, EventLoop::HandlerStats> EventLoop::Stats() const {
  MutexLock lock(&stats_mu_);
  return stats_;
}

}  // namespace cosched
