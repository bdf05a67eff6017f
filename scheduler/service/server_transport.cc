// File: scheduler/service/server_transport.cc
#include "scheduler/service/server_transport.h"

#include <grpc/grpc.h>

namespace cosched::scheduler {

void ApplyServerTransportSettings(grpc::ServerBuilder& builder) {
  // Without BDP probing the window stays where the lookahead puts it.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  builder.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
}

}  // namespace cosched::scheduler
