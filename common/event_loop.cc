// File: common/event_loop.cc
#include "common/event_loop.h"

#include <chrono>
#include <utility>

#include "common/logging.h"

namespace cosched {

EventLoop::EventLoop(Clock* clock) : clock_(clock) {}

EventLoop::~EventLoop() { Stop(); }

void EventLoop::Post(absl::string_view name, Handler fn) {
  // "Now" is the earliest possible time, so posted work keeps FIFO order with due timers.
  PostAt(name, absl::InfinitePast(), std::move(fn));
}

void EventLoop::PostAfter(absl::string_view name, absl::Duration delay, Handler fn) {
  PostAt(name, clock_->Now() + delay, std::move(fn));
}

void EventLoop::PostAt(absl::string_view name, absl::Time when, Handler fn) {
  MutexLock lock(&mu_);
  pending_.emplace(Key{when, next_sequence_++}, Event{std::string(name), std::move(fn)});
  wakeup_.Signal();
}

std::optional<EventLoop::Event> EventLoop::PopDue(absl::Time now) {
  if (pending_.empty() || pending_.begin()->first.first > now) return std::nullopt;
  auto node = pending_.extract(pending_.begin());
  return std::move(node.mapped());
}

void EventLoop::RunOne(Event event) {
  const auto start = std::chrono::steady_clock::now();
  std::move(event.fn)();
  const absl::Duration took = absl::FromChrono(std::chrono::steady_clock::now() - start);
  MutexLock lock(&mu_);
  HandlerStats& stats = stats_[event.name];
  ++stats.runs;
  stats.total += took;
  stats.max = std::max(stats.max, took);
}

int EventLoop::RunDue() {
  int ran = 0;
  while (true) {
    std::optional<Event> event;
    {
      MutexLock lock(&mu_);
      event = PopDue(clock_->Now());
    }
    if (!event) return ran;
    RunOne(std::move(*event));
    ++ran;
  }
}

std::optional<absl::Time> EventLoop::NextDue() const {
  MutexLock lock(&mu_);
  if (pending_.empty()) return std::nullopt;
  return pending_.begin()->first.first;
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
  MutexLock lock(&mu_);
  pending_.clear();
}

void EventLoop::RunThread() {
  while (true) {
    std::optional<Event> event;
    {
      MutexLock lock(&mu_);
      while (!stopping_ && !(event = PopDue(clock_->Now()))) {
        if (pending_.empty()) {
          wakeup_.Wait(&mu_);
        } else {
          wakeup_.WaitWithDeadline(&mu_, pending_.begin()->first.first);
        }
      }
      if (stopping_) return;
    }
    RunOne(std::move(*event));
  }
}

std::map<std::string, EventLoop::HandlerStats> EventLoop::Stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

}  // namespace cosched
