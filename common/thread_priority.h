// File: common/thread_priority.h
// CPU priority of the calling thread, so that latency-bound work (inference) takes a core
// from throughput work (training) the moment it wakes, without either side polling.
//   - Background: SCHED_BATCH and nice 10. The kernel preempts such a thread as soon as a
//     normal thread wakes on its core, and never preempts others on its behalf.
//   - Latency-sensitive: a short scheduling slice (Linux 6.12+ EEVDF honours
//     sched_attr.sched_runtime for normal threads; a woken thread with a shorter slice than
//     the running one preempts it), and nice -5 where the process may raise its priority
//     (CAP_SYS_NICE or RLIMIT_NICE). Where it may not, it keeps nice 0 with the short slice.
// Both are best effort: they return what they could not do, and callers log it and go on,
// because a worker without the privilege still works, only with a looser preemption bound.
#pragma once

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace cosched {

absl::Status MakeThisThreadBackground();

absl::Status MakeThisThreadLatencySensitive(absl::Duration slice = absl::Microseconds(100));

}  // namespace cosched
