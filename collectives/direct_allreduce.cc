// File: collectives/direct_allreduce.cc
#include "collectives/direct_allreduce.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "collectives/direct_stream.h"
#include "common/status_macros.h"

namespace cosched::collectives {
namespace {

// The state of one Run: what has gone, what has come, what has been summed.
class Operation final : public StreamOperation {
 public:
  Operation(DirectLink& link, LinkedAllreduce* inner, absl::Span<float> data, uint64_t sequence,
            std::vector<float>& theirs)
      : link_(link),
        inner_(inner),
        sequence_(sequence),
        header_(sequence, data.size() * sizeof(float)) {
    const size_t n = data.size();
    whole_ = n * sizeof(float) < DirectAllreduce::kWholeBelowBytes;
    // Halves: side 0 sums [0, n/2), side 1 the rest; each sends the part it does not sum.
    const size_t split = n / 2;
    own_ = whole_ ? data : (link.side() == 0 ? data.first(split) : data.subspan(split));
    const absl::Span<float> other =
        whole_ ? data : (link.side() == 0 ? data.subspan(split) : data.first(split));
    theirs.resize(own_.size());
    theirs_ = absl::MakeSpan(theirs);

    send_.Add(header_.data(), OperationHeader::kSize);
    send_.Add(Bytes(other), other.size() * sizeof(float));
    raw_end_ = send_.total();
    if (!whole_) send_.Add(Bytes(own_), own_.size() * sizeof(float));
    send_.Add(&done_, 1);

    receive_.Add(peer_header_.data(), OperationHeader::kSize);
    receive_.Add(Bytes(theirs_), theirs_.size() * sizeof(float));
    theirs_end_ = receive_.total();
    if (!whole_) receive_.Add(Bytes(other), other.size() * sizeof(float));
    data_end_ = receive_.total();
    receive_.Add(&peer_done_, 1);
  }

  absl::Status Run(absl::Time deadline) {
    deadline_ = deadline;
    RETURN_IF_ERROR(DriveStreams(*this, link_, send_, sent_, link_, receive_, received_, deadline));
    if (peer_done_ != kDirectDone) {
      return absl::DataLossError(absl::StrCat("peer ", link_.peer(), " ended operation #",
                                              sequence_, " with byte ", int{peer_done_},
                                              ", not the end-of-operation byte"));
    }
    return absl::OkStatus();
  }

 private:
  static char* Bytes(absl::Span<float> floats) { return reinterpret_cast<char*>(floats.data()); }

  // Sends the raw part at once; the summed half as it is summed (with an inner allreduce, once
  // that has run); "done" once all has arrived.
  size_t SendLimit() const override {
    if (received_ >= data_end_ && summed_ == own_.size() && !InnerPending()) return send_.total();
    if (whole_ || InnerPending()) return raw_end_;
    return raw_end_ + summed_ * sizeof(float);
  }

  // The header alone until it is checked. The peer's sums land where this side's raw part
  // was, so no byte of them is taken before that byte has gone (a peer that sends early
  // cannot overwrite what this side has yet to send).
  size_t ReceiveLimit() const override {
    if (!header_checked_) return OperationHeader::kSize;
    if (whole_ || sent_ >= raw_end_) return receive_.total();
    return theirs_end_ + (sent_ - std::min(sent_, OperationHeader::kSize));
  }

  absl::StatusOr<bool> Progress() override {
    if (!header_checked_ && received_ >= OperationHeader::kSize) {
      RETURN_IF_ERROR(header_.Check(peer_header_, link_.peer()));
      header_checked_ = true;
    }
    const bool summed = SumWhatArrived();
    // Both directions of the raw part are through: the peer waits for nothing of this side's
    // while the inner allreduce runs (nor does any other pair, so no cycle can form).
    if (InnerPending() && summed_ == own_.size() && sent_ >= raw_end_) {
      RETURN_IF_ERROR(inner_->Run(own_, deadline_ - absl::Now()));
      inner_done_ = true;
      return true;
    }
    return summed;
  }

  bool InnerPending() const { return inner_ != nullptr && !inner_done_; }

  // Sums the peer's floats that have arrived, kSumFloats at a time (the last piece whatever
  // is left). Whole vectors are summed in place only once they have gone out.
  bool SumWhatArrived() {
    if (whole_ && sent_ < raw_end_) return false;
    const size_t arrived =
        (std::min(received_, theirs_end_) - std::min(received_, OperationHeader::kSize)) /
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

  DirectLink& link_;
  LinkedAllreduce* const inner_;  // null at the innermost level
  bool inner_done_ = false;
  absl::Time deadline_;
  const uint64_t sequence_;
  OperationHeader header_;
  OperationHeader peer_header_;
  char done_ = kDirectDone;
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

DirectAllreduce::DirectAllreduce(std::unique_ptr<DirectLink> link,
                                 std::unique_ptr<LinkedAllreduce> inner)
    : link_(std::move(link)), inner_(std::move(inner)) {}

absl::Status DirectAllreduce::Run(absl::Span<float> data, absl::Duration timeout) {
  if (data.empty()) return absl::OkStatus();
  Operation operation(*link_, inner_.get(), data, next_sequence_++, theirs_);
  const absl::Status status = operation.Run(absl::Now() + timeout);
  // The peer (and through `inner`, the other pairs) fail now rather than at their timeout.
  if (!status.ok()) Abort();
  return status;
}

void DirectAllreduce::Abort() {
  link_->Abort();
  if (inner_ != nullptr) inner_->Abort();
}

}  // namespace cosched::collectives
