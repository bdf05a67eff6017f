// File: bench/scheduler_bench_heartbeat.h
// The heartbeat part of `cosched-bench scheduler`: N concurrent worker sessions, each its
// own gRPC channel and connection on 127.0.0.1, register and then send heartbeats as fast as
// their streams take them for a fixed time, against either
//   - the real scheduler service in this process (CoreRunner + SessionHub +
//     WorkerSessionService on a grpc::ServerBuilder, as scheduler/main.cc builds it, without
//     persistence), counting the heartbeat messages it read off the streams and the core
//     applied to its view of the node (the service's heartbeat_counts().applied), or
//   - a trivial echo service (bench/bench_echo.proto) that counts the heartbeat messages it
//     read off the streams (it has no core to apply them to).
// Both count messages, once each. The service coalesces a session's heartbeats that arrive
// while its previous drain task waits on the core's loop (heartbeat_mailbox.h): a coalesced
// heartbeat counts as absorbed when the core applies the merged heartbeat that carries it,
// as the core's view then holds what it reported (or the newer report that superseded it).
// Heartbeats the core refused (its node was declared lost) do not count. The core's own
// counters().heartbeats counts ReceiveHeartbeat calls: reported as core_calls, to show how
// much coalescing took place.
// The rate is heartbeats absorbed / seconds from the start signal until every session has
// finished and (for the core) its loop has drained everything it was handed.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cosched::bench {

struct HeartbeatOptions {
  int sessions = 64;
  absl::Duration duration = absl::Seconds(3);
};

struct HeartbeatRun {
  int64_t sent = 0;        // heartbeats the sessions wrote after the start
  int64_t keepalives = 0;  // before it (at most a few may land after the first count)
  int64_t absorbed = 0;    // heartbeats the server counted after the start
  int64_t core_calls = 0;  // service only: ReceiveHeartbeat calls that carried them
  double seconds = 0;
  double longest_write_seconds = 0;  // the longest gap between two writes of a session
  // Sessions whose node the core expired (heartbeat TTL) while they were sending: their
  // later heartbeats are refused, not absorbed.
  int sessions_lost = 0;
  double per_second() const { return seconds > 0 ? static_cast<double>(absorbed) / seconds : 0; }
};

absl::StatusOr<HeartbeatRun> RunCoreHeartbeats(const HeartbeatOptions& options);
absl::StatusOr<HeartbeatRun> RunEchoHeartbeats(const HeartbeatOptions& options);

}  // namespace cosched::bench
