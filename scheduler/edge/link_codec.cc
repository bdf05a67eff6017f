// File: scheduler/edge/link_codec.cc
#include "scheduler/edge/link_codec.h"

namespace cosched::scheduler::edge {

using worker::edge::Compression;

Compression CodecForLink(bool datacenter_replica, double link_mbps) {
  if (datacenter_replica) return Compression::kNone;
  // A NaN link compares false and falls through to int8 like an unknown one.
  return link_mbps >= kFp16MinLinkMbps ? Compression::kFp16 : Compression::kInt8;
}

}  // namespace cosched::scheduler::edge
