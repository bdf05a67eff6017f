// File: collectives/direct_stream.cc
#include "collectives/direct_stream.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched::collectives {
namespace {

constexpr std::array<char, 8> kMagic = {'c', 'o', 's', 'c', 'h', 'e', 'd', 'A'};

void PutU64(char* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

}  // namespace

OperationHeader::OperationHeader(uint64_t sequence, uint64_t bytes) {
  std::copy(kMagic.begin(), kMagic.end(), bytes_.begin());
  PutU64(bytes_.data() + 8, sequence);
  PutU64(bytes_.data() + 16, bytes);
}

uint64_t OperationHeader::Field(size_t offset) const {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) {
    value |= uint64_t{static_cast<unsigned char>(bytes_[offset + i])} << (8 * i);
  }
  return value;
}

absl::Status OperationHeader::Check(const OperationHeader& received,
                                    const std::string& peer) const {
  if (!std::equal(kMagic.begin(), kMagic.end(), received.bytes_.begin())) {
    return absl::DataLossError(
        absl::StrCat("peer ", peer, " sent bytes that are not a direct allreduce"));
  }
  if (received.Field(8) != Field(8) || received.Field(16) != Field(16)) {
    return absl::DataLossError(absl::StrCat("peer ", peer, " runs allreduce #", received.Field(8),
                                            " of ", received.Field(16), " bytes; this side #",
                                            Field(8), " of ", Field(16), " bytes"));
  }
  return absl::OkStatus();
}

void Stream::Add(char* data, size_t size) {
  if (size > 0) parts_.push_back({data, size});
  total_ += size;
}

Stream::Pieces Stream::At(size_t at, size_t limit) const {
  Pieces pieces;
  for (const absl::Span<char>& part : parts_) {
    if (limit == 0) break;
    if (at >= part.size()) {
      at -= part.size();
      continue;
    }
    pieces.push_back(part.subspan(at, std::min(limit, part.size() - at)));
    limit -= pieces.back().size();
    at = 0;
  }
  return pieces;
}

absl::Status DriveStreams(StreamOperation& operation, DirectLink& out, const Stream& send,
                          size_t& sent, DirectLink& in, const Stream& receive, size_t& received,
                          absl::Time deadline) {
  while (sent < send.total() || received < receive.total()) {
    bool moved = false;
    const size_t can_send = operation.SendLimit() - sent;
    if (can_send > 0) {
      ASSIGN_OR_RETURN(const size_t n, out.SendSome(send.At(sent, can_send)));
      sent += n;
      moved |= n > 0;
    }
    const size_t can_receive = operation.ReceiveLimit() - received;
    if (can_receive > 0) {
      ASSIGN_OR_RETURN(const size_t n, in.ReceiveSome(receive.At(received, can_receive)));
      received += n;
      moved |= n > 0;
    }
    ASSIGN_OR_RETURN(const bool progressed, operation.Progress());
    if (moved || progressed) continue;
    if (can_send == 0 && can_receive == 0) {
      return absl::InternalError("direct operation can neither send nor receive (a bug)");
    }
    const DirectLink::WaitFor waits[] = {{&in, can_receive > 0, false},
                                         {&out, false, can_send > 0}};
    RETURN_IF_ERROR(DirectLink::WaitAny(waits, deadline));
  }
  return absl::OkStatus();
}

}  // namespace cosched::collectives
