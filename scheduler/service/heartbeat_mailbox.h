// File: scheduler/service/heartbeat_mailbox.h
// HeartbeatMailbox: one worker session's heartbeats on their way from the stream's reader
// thread to the core's loop thread, coalesced.
//
// Why: every heartbeat used to be one task on the core's loop. A worker can send them faster
// than the loop applies them (and 10,000 workers at one a second are 10,000 tasks a second),
// so the loop's queue grew, its posters queued up on its lock, and heartbeats that had
// arrived sat unread until the core's TTL declared live workers lost. A heartbeat is a report
// of the worker's state, and a newer one supersedes an older one, so the reader keeps only
// the newest (merged with what the core must not miss of the older ones, see
// MergeHeartbeats) and posts one drain task only when none is queued: at most one heartbeat
// task per worker waits on the loop, whatever the rate.
#pragma once

#include <cstdint>
#include <optional>

#include "common/mutex.h"
#include "scheduler/core/scheduler_core.h"

namespace cosched::scheduler {

// One heartbeat that gives the core what it would get from `older` then `newer`:
//   - the node's state (vehicle signals, inference backlog, served version) from `newer`: it is
//     the worker's latest report and the core keeps only the latest;
//   - the service time per image from `newer`, or from `older` when `newer` does not know it
//     (0): the core keeps the last known value;
//   - the job's facts: progress, job_finished and failure. job_finished and failure are
//     one-off facts that end the node's part in its job (the core finishes the job, or
//     departs the node and counts a failure), so they are sticky: a later heartbeat without
//     them does not erase them. Once `older` carries one, `older`'s job facts are kept and
//     `newer`'s dropped: the worker sent `newer` before it heard the core's reaction (it
//     repeats the fact until revoked), and the core must neither count one failure twice
//     nor apply a finished member's later reports to a job the node may rejoin at once.
//     Otherwise the progress with the higher step wins (ties: `newer`), since the core
//     ignores progress that goes backwards, and `newer`'s one-off facts, if any, are taken.
Heartbeat MergeHeartbeats(Heartbeat older, Heartbeat newer);

class HeartbeatMailbox {
 public:
  struct Batch {
    Heartbeat heartbeat;  // the merge of every heartbeat put since the last Take
    int64_t count = 0;    // how many heartbeats it stands for
  };

  // Leaves `heartbeat` for the core. Returns true when the caller must post a drain task
  // (one that calls Take): none is queued that would carry this heartbeat.
  bool Put(Heartbeat heartbeat) ABSL_LOCKS_EXCLUDED(mu_);
  // Takes what waits (nullopt if nothing). The next Put asks for a new drain task.
  std::optional<Batch> Take() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Mutex mu_;  // the session's reader and the core's loop thread; held for a merge at most
  std::optional<Heartbeat> waiting_ ABSL_GUARDED_BY(mu_);
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  bool drain_queued_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cosched::scheduler
