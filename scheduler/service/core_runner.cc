// File: scheduler/service/core_runner.cc
#include "scheduler/service/core_runner.h"

namespace cosched::scheduler {

CoreRunner::CoreRunner(CoreConfig config, Placer placer, CoreOutbox* outbox,
                       absl::Duration tick_interval)
    : loop_(&clock_),
      core_(&clock_, std::move(config), std::move(placer), outbox),
      tick_interval_(tick_interval) {
  ScheduleTick();
  loop_.Start();
}

CoreRunner::~CoreRunner() { loop_.Stop(); }

void CoreRunner::Post(absl::string_view name, absl::AnyInvocable<void(SchedulerCore&) &&> fn) {
  loop_.Post(name, [this, fn = std::move(fn)]() mutable { std::move(fn)(core_); });
}

void CoreRunner::ScheduleTick() {
  loop_.PostAfter("tick", tick_interval_, [this] {
    core_.Tick();
    ScheduleTick();
  });
}

}  // namespace cosched::scheduler
