// File: common/grpc_limits.h
// The largest gRPC message cosched's programs exchange, the same on both ends: explicit,
// rather than gRPC's 4 MiB default for what a peer receives. The largest legitimate messages
// carry a model's parameters (a weights upload or load, an edge-tier round or contribution):
// 0.94 MB for the default MLP and 4 bytes per parameter for any other, so 64 MiB admits a
// model of 16 M parameters. Past it the receiving transport refuses the message with
// RESOURCE_EXHAUSTED before buffering it for a handler.
#pragma once

namespace cosched {

inline constexpr int kMaxGrpcMessageBytes = 64 << 20;

}  // namespace cosched
