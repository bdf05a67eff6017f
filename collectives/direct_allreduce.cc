// File: collectives/direct_allreduce.cc
#include "collectives/direct_allreduce.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched::collectives {
namespace {

constexpr std::array<char, 8> kMagic = {'c', 'o', 's', 'c', 'h', 'e', 'd', 'A'};
constexpr char kDone = 'D';

// magic (8 bytes), sequence number, size in bytes (8 bytes each, little-endian).
using Header = std::array<char, 24>;

void PutU64(char* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t GetU64(const char* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return value;
}

Header MakeHeader(uint64_t sequence, uint64_t bytes) {
  Header header{};
  std::copy(kMagic.begin(), kMagic.end(), header.begin());
  PutU64(header.data() + 8, sequence);
  PutU64(header.data() + 16, bytes);
  return header;
}

// One direction of an operation: byte ranges in the order they cross the wire, addressed by
// their offset in the stream.
class Stream {
 public:
  void Add(char* data, size_t size) {
    if (size > 0) parts_.push_back({data, size});
    total_ += size;
  }
  size_t total() const { return total_; }
  // The bytes from stream offset `at`, at most `limit` of them, as the pieces of memory
  // they are in.
  // (Inline: a stream has at most four parts, and this runs at every step of an operation.)
  absl::InlinedVector<absl::Span<char>, 4> At(size_t at, size_t limit) const {
    absl::InlinedVector<absl::Span<char>, 4> pieces;
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

 private:
  absl::InlinedVector<absl::Span<char>, 4> parts_;
  size_t total_ = 0;
};

// The state of one Run: what has gone, what has come, what has been summed.
class Operation {
 public:
  Operation(DirectLink& link, absl::Span<float> data, uint64_t sequence, std::vector<float>& theirs)
      : link_(link), sequence_(sequence), header_(MakeHeader(sequence, data.size() * 4)) {
    const size_t n = data.size();
    whole_ = n * sizeof(float) < DirectAllreduce::kWholeBelowBytes;
    // Halves: side 0 sums [0, n/2), side 1 the rest; each sends the part it does not sum.
    const size_t split = n / 2;
    own_ = whole_ ? data : (link.side() == 0 ? data.first(split) : data.subspan(split));
    const absl::Span<float> other =
        whole_ ? data : (link.side() == 0 ? data.subspan(split) : data.first(split));
    theirs.resize(own_.size());
    theirs_ = absl::MakeSpan(theirs);

    send_.Add(header_.data(), header_.size());
    send_.Add(Bytes(other), other.size() * sizeof(float));
    raw_end_ = send_.total();
    if (!whole_) send_.Add(Bytes(own_), own_.size() * sizeof(float));
    send_.Add(&done_, 1);

    receive_.Add(peer_header_.data(), peer_header_.size());
    receive_.Add(Bytes(theirs_), theirs_.size() * sizeof(float));
    theirs_end_ = receive_.total();
    if (!whole_) receive_.Add(Bytes(other), other.size() * sizeof(float));
    data_end_ = receive_.total();
    receive_.Add(&peer_done_, 1);
  }

  absl::Status Run(absl::Time deadline) {
    while (sent_ < send_.total() || received_ < receive_.total()) {
      bool moved = false;
      const size_t can_send = SendLimit() - sent_;
      if (can_send > 0) {
        ASSIGN_OR_RETURN(const size_t n, link_.SendSome(send_.At(sent_, can_send)));
        sent_ += n;
        moved |= n > 0;
      }
      const size_t can_receive = ReceiveLimit() - received_;
      if (can_receive > 0) {
        ASSIGN_OR_RETURN(const size_t n, link_.ReceiveSome(receive_.At(received_, can_receive)));
        received_ += n;
        moved |= n > 0;
      }
      if (!header_checked_ && received_ >= peer_header_.size()) {
        RETURN_IF_ERROR(CheckHeader());
        header_checked_ = true;
      }
      moved |= SumWhatArrived();
      if (!moved) {
        if (can_send == 0 && can_receive == 0) {
          return absl::InternalError("direct allreduce can neither send nor receive (a bug)");
        }
        RETURN_IF_ERROR(link_.Wait(can_receive > 0, can_send > 0, deadline));
      }
    }
    if (peer_done_ != kDone) {
      return absl::DataLossError(absl::StrCat("peer ", link_.peer(), " ended operation #",
                                              sequence_, " with byte ", int{peer_done_},
                                              ", not the end-of-operation byte"));
    }
    return absl::OkStatus();
  }

 private:
  static char* Bytes(absl::Span<float> floats) { return reinterpret_cast<char*>(floats.data()); }

  // Sends the raw part at once; the summed half as it is summed; "done" once all has arrived.
  size_t SendLimit() const {
    if (received_ >= data_end_ && summed_ == own_.size()) return send_.total();
    return whole_ ? raw_end_ : raw_end_ + summed_ * sizeof(float);
  }

  // The header alone until it is checked. The peer's sums land where this side's raw part
  // was, so no byte of them is taken before that byte has gone (a peer that sends early
  // cannot overwrite what this side has yet to send).
  size_t ReceiveLimit() const {
    if (!header_checked_) return peer_header_.size();
    if (whole_ || sent_ >= raw_end_) return receive_.total();
    return theirs_end_ + (sent_ - std::min(sent_, header_.size()));
  }

  // Sums the peer's floats that have arrived, kSumFloats at a time (the last piece whatever
  // is left). Whole vectors are summed in place only once they have gone out.
  bool SumWhatArrived() {
    if (whole_ && sent_ < raw_end_) return false;
    const size_t arrived =
        (std::min(received_, theirs_end_) - std::min(received_, peer_header_.size())) /
        sizeof(float);
    if (arrived == summed_ ||
        (arrived - summed_ < DirectAllreduce::kSumFloats && arrived < own_.size())) {
      return false;
    }
    float* out = own_.data();
    const float* in = theirs_.data();
    for (size_t i = summed_; i < arrived; ++i) out[i] += in[i];
    summed_ = arrived;
    return true;
  }

  absl::Status CheckHeader() const {
    if (!std::equal(kMagic.begin(), kMagic.end(), peer_header_.begin())) {
      return absl::DataLossError(
          absl::StrCat("peer ", link_.peer(), " sent bytes that are not a direct allreduce"));
    }
    const uint64_t sequence = GetU64(peer_header_.data() + 8);
    const uint64_t bytes = GetU64(peer_header_.data() + 16);
    const uint64_t own_bytes = GetU64(header_.data() + 16);
    if (sequence != sequence_ || bytes != own_bytes) {
      return absl::DataLossError(absl::StrCat("peer ", link_.peer(), " runs allreduce #", sequence,
                                              " of ", bytes, " bytes; this side #", sequence_,
                                              " of ", own_bytes, " bytes"));
    }
    return absl::OkStatus();
  }

  DirectLink& link_;
  const uint64_t sequence_;
  Header header_;
  Header peer_header_{};
  char done_ = kDone;
  char peer_done_ = 0;
  bool whole_ = false;
  absl::Span<float> own_;     // what this side sums (the whole vector, or its half)
  absl::Span<float> theirs_;  // where the peer's copy of own_ lands
  Stream send_;
  Stream receive_;
  size_t raw_end_ = 0;     // send stream offset where the raw part ends
  size_t theirs_end_ = 0;  // receive stream offset where the peer's copy of own_ ends
  size_t data_end_ = 0;    // receive stream offset where the data ends ("done" follows)
  size_t sent_ = 0;
  size_t received_ = 0;
  size_t summed_ = 0;  // floats of own_ summed
  bool header_checked_ = false;
};

}  // namespace

DirectAllreduce::DirectAllreduce(std::unique_ptr<DirectLink> link) : link_(std::move(link)) {}

absl::Status DirectAllreduce::Run(absl::Span<float> data, absl::Duration timeout) {
  if (data.empty()) return absl::OkStatus();
  Operation operation(*link_, data, next_sequence_++, theirs_);
  return operation.Run(absl::Now() + timeout);
}

}  // namespace cosched::collectives
