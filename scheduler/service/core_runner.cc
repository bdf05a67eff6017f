// File: scheduler/service/core_runner.cc
#include "scheduler/service/core_runner.h"

namespace cosched::scheduler {

CoreRunner::CoreRunner(CoreConfig config, Placer placer, CoreOutbox* outbox,
                       SchedulerMetrics* metrics, absl::Duration tick_interval)
    : loop_(&clock_),
      core_(&clock_, std::move(config), std::move(placer), outbox),
      metrics_(metrics),
      tick_interval_(tick_interval) {
  ScheduleTick();
  if (metrics_ != nullptr) ScheduleMetrics();
  loop_.Start();
}

CoreRunner::~CoreRunner() { loop_.Stop(); }

void CoreRunner::Post(absl::string_view name, absl::AnyInvocable<void(SchedulerCore&) &&> fn) {
  loop_.Post(name, [this, name = std::string(name), fn = std::move(fn)]() mutable {
    const absl::Time start = absl::Now();
    std::move(fn)(core_);
    if (metrics_ != nullptr) metrics_->ObserveDecision(name, absl::Now() - start);
  });
}

void CoreRunner::ScheduleMetrics() {
  loop_.PostAfter("metrics", absl::Seconds(1), [this] {
    metrics_->Update(core_);
    ScheduleMetrics();
  });
}

void CoreRunner::ScheduleTick() {
  loop_.PostAfter("tick", tick_interval_, [this] {
    const absl::Time start = absl::Now();
    core_.Tick();
    if (metrics_ != nullptr) metrics_->ObserveDecision("tick", absl::Now() - start);
    ScheduleTick();
  });
}

}  // namespace cosched::scheduler
