// File: scheduler/edge/link_codec.h
// The compression of a replica's tensors (its pseudo-gradients up, the parameters down) when a
// job's `edge.compression` is `auto`: chosen by the link the replica reported at its join.
//   - The data-center replica: none. It sits in the synchronous tier because its link is fast,
//     so its rounds stay as exact as its synchronous steps.
//   - A vehicle on a link of at least kFp16MinLinkMbps (a depot's fibre, say): fp16, half the
//     bytes of none and an error of 2^-11 of a chunk's largest value (compression.h).
//   - Any slower vehicle, or one whose link is unknown: int8, a quarter of the bytes.
// fp16 carries twice int8's bytes; at 100 Mbit/s the difference for a model of a million
// parameters (1 MB) takes 0.08 s a round, less than one inner step on a vehicle's CPU.
#pragma once

#include "worker/edge/compression.h"

namespace cosched::scheduler::edge {

inline constexpr double kFp16MinLinkMbps = 100;

worker::edge::Compression CodecForLink(bool datacenter_replica, double link_mbps);

}  // namespace cosched::scheduler::edge
