// File: scheduler/service/core_runner.h
// CoreRunner: the scheduler core on its own EventLoop thread, with the bridge the gRPC
// threads use. A handler never touches the core directly: it posts a closure to the loop
// and, when it needs an answer, waits for it (Call). The loop also ticks the core
// periodically (heartbeat TTL, admission).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/mutex.h"
#include "scheduler/core/scheduler_core.h"
#include "scheduler/service/scheduler_metrics.h"

namespace cosched::scheduler {

class CoreRunner {
 public:
  // `outbox` receives the core's decisions on the loop thread and must outlive the runner.
  // `metrics` (optional, must outlive the runner) hears how long each handler took and is
  // updated from the core once a second.
  CoreRunner(CoreConfig config, Placer placer, CoreOutbox* outbox,
             SchedulerMetrics* metrics = nullptr,
             absl::Duration tick_interval = absl::Milliseconds(250));
  ~CoreRunner();  // stops the loop thread

  // Runs `fn(core)` on the loop thread without waiting.
  void Post(absl::string_view name, absl::AnyInvocable<void(SchedulerCore&) &&> fn);

  // Runs `fn(core)` on the loop thread and returns what it returned.
  template <typename Fn>
  auto Call(absl::string_view name, Fn fn) -> decltype(fn(std::declval<SchedulerCore&>())) {
    using Result = decltype(fn(std::declval<SchedulerCore&>()));
    struct Slot {
      Mutex mu;
      CondVar done_cv;
      std::optional<Result> result ABSL_GUARDED_BY(mu);
    } slot;
    Post(name, [&slot, fn = std::move(fn)](SchedulerCore& core) mutable {
      Result result = fn(core);
      MutexLock lock(&slot.mu);
      slot.result.emplace(std::move(result));
      slot.done_cv.SignalAll();
    });
    MutexLock lock(&slot.mu);
    while (!slot.result.has_value()) slot.done_cv.Wait(&slot.mu);
    return std::move(*slot.result);
  }

  const EventLoop& loop() const { return loop_; }

 private:
  void ScheduleTick();
  void ScheduleMetrics();

  RealClock clock_;
  EventLoop loop_;
  SchedulerCore core_;  // touched only on the loop thread
  SchedulerMetrics* const metrics_;
  const absl::Duration tick_interval_;
};

}  // namespace cosched::scheduler
