// File: scheduler/service/server_transport.h
// The HTTP/2 transport settings of the scheduler's gRPC server (scheduler/main.cc; the
// heartbeat benchmark builds its servers with them too).
//
// Why: by default gRPC probes each connection's bandwidth-delay product and grows a stream's
// receive window to megabytes. A worker session is a stream of small messages, so a worker
// can then get tens of thousands of heartbeats ahead of what the scheduler has read; they wait
// in the scheduler's transport, connections are served in bursts of seconds, and the core's
// heartbeat TTL declares workers lost whose heartbeats are sitting, unread, in the
// scheduler's own buffers (docs/benchmarks.md, "Why the service lost live sessions, and the fix").
// A fixed 64 KiB stream window (Envoy's edge recommendation too) bounds what a peer may queue here:
// beyond it, the transport pushes back on the sender, and every connection is read within a
// fraction of a second. Nothing the scheduler serves needs more: its messages are small
// (assignments, heartbeats, key-value entries, inference requests of a few images).
#pragma once

#include <grpcpp/server_builder.h>

#include "common/grpc_limits.h"

namespace cosched::scheduler {

inline constexpr int kStreamWindowBytes = 64 * 1024;
// The largest message a peer may send (common/grpc_limits.h says why this size).
inline constexpr int kMaxReceiveMessageBytes = kMaxGrpcMessageBytes;
// A job's YAML (SubmitJob): a few KiB in practice; the limit bounds what one request can make
// the scheduler parse and journal.
inline constexpr size_t kMaxJobYamlBytes = 64 << 10;

// Applies the settings above to `builder` (before BuildAndStart).
void ApplyServerTransportSettings(grpc::ServerBuilder& builder);

}  // namespace cosched::scheduler
