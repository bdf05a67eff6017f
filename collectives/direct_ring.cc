// File: collectives/direct_ring.cc
#include "collectives/direct_ring.h"

#include <algorithm>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "collectives/direct_stream.h"
#include "common/status_macros.h"

namespace cosched::collectives {
namespace {

// Chunk `c` of n over `count` floats: the first count % n chunks one float longer.
struct Chunk {
  size_t begin;
  size_t size;
};
Chunk ChunkOf(int c, int n, size_t count) {
  const size_t base = count / static_cast<size_t>(n);
  const size_t longer = count % static_cast<size_t>(n);
  const size_t index = static_cast<size_t>(c);
  return {index * base + std::min(index, longer), base + (index < longer ? 1 : 0)};
}

int Mod(int a, int n) { return ((a % n) + n) % n; }

char* Bytes(float* floats) { return reinterpret_cast<char*>(floats); }

// The state of one Run. Offsets named "data" leave the OperationHeader out.
class RingOperation final : public StreamOperation {
 public:
  RingOperation(DirectLink& left, DirectLink& right, int party, int parties, absl::Span<float> data,
                uint64_t sequence, std::vector<float>& scratch)
      : left_(left),
        right_(right),
        parties_(parties),
        data_(data),
        header_(sequence, data.size() * sizeof(float)) {
    scratch.resize(data.size());
    scratch_ = scratch.data();
    const int n = parties;
    const int steps = 2 * n - 2;  // n - 1 of the reduce-scatter, n - 1 of the allgather
    to_right_.Add(header_.data(), OperationHeader::kSize);
    from_left_.Add(peer_header_.data(), OperationHeader::kSize);
    for (int k = 0; k < steps; ++k) {
      const bool reducing = k < n - 1;
      const Chunk out =
          ChunkOf(reducing ? Mod(party - k, n) : Mod(party + 1 - (k - n + 1), n), n, data.size());
      const Chunk in =
          ChunkOf(reducing ? Mod(party - k - 1, n) : Mod(party - (k - n + 1), n), n, data.size());
      send_start_.push_back(to_right_.total() - OperationHeader::kSize);
      receive_start_.push_back(from_left_.total() - OperationHeader::kSize);
      receive_chunk_.push_back(in);
      to_right_.Add(Bytes(data.data() + out.begin), out.size * sizeof(float));
      // The reduce-scatter's chunks land aside to be added; the allgather's in place.
      float* landing = reducing ? scratch_ : data.data();
      from_left_.Add(Bytes(landing + in.begin), in.size * sizeof(float));
    }
    send_start_.push_back(to_right_.total() - OperationHeader::kSize);
    receive_start_.push_back(from_left_.total() - OperationHeader::kSize);
    first_send_size_ = send_start_[1];
  }

  absl::Status Run(absl::Time deadline) {
    RETURN_IF_ERROR(
        DriveStreams(*this, right_, to_right_, sent_, left_, from_left_, received_, deadline));
    return ExchangeDone(deadline);
  }

 private:
  size_t ReceivedData() const { return received_ - std::min(received_, OperationHeader::kSize); }
  size_t SentData() const { return sent_ - std::min(sent_, OperationHeader::kSize); }

  // Step k > 0 sends what step k - 1 received, once it is final (added, or landed): the data
  // stream to the right runs first_send_size_ bytes ahead of what is final from the left.
  size_t SendLimit() const override {
    return OperationHeader::kSize +
           std::min(to_right_.total() - OperationHeader::kSize, first_send_size_ + processed_);
  }

  // The header alone until it is checked. Allgather step s lands in place on the chunk that
  // reduce-scatter step s sends: no byte of it is taken before that byte has gone.
  size_t ReceiveLimit() const override {
    if (!header_checked_) return OperationHeader::kSize;
    const int n = parties_;
    for (int s = 0; s < n - 1; ++s) {
      const size_t size = send_start_[s + 1] - send_start_[s];
      const size_t gone = std::min(size, SentData() - std::min(SentData(), send_start_[s]));
      if (gone < size) return OperationHeader::kSize + receive_start_[n - 1 + s] + gone;
    }
    return from_left_.total();
  }

  absl::StatusOr<bool> Progress() override {
    if (!header_checked_ && received_ >= OperationHeader::kSize) {
      RETURN_IF_ERROR(header_.Check(peer_header_, left_.peer()));
      header_checked_ = true;
    }
    return ProcessWhatArrived();
  }

  // Adds the reduce-scatter's chunks into the data as they arrive, kSumFloats at a time (or
  // what is left of a chunk); the allgather's are final as they land.
  bool ProcessWhatArrived() {
    const size_t arrived = ReceivedData();
    const size_t reduced_end = receive_start_[parties_ - 1];
    bool moved = false;
    while (processed_ < reduced_end) {
      while (receive_start_[step_ + 1] <= processed_) ++step_;  // past empty chunks too
      const size_t step_start = receive_start_[step_];
      const size_t step_end = receive_start_[step_ + 1];
      // Whole floats only (every step starts on a float).
      const size_t upto = std::min(arrived, step_end) & ~(sizeof(float) - 1);
      if (upto <= processed_) break;
      if (upto - processed_ < DirectRing::kSumFloats * sizeof(float) && upto < step_end) break;
      const Chunk& chunk = receive_chunk_[step_];
      const size_t from = chunk.begin + (processed_ - step_start) / sizeof(float);
      const size_t to = chunk.begin + (upto - step_start) / sizeof(float);
      for (size_t i = from; i < to; ++i) data_[i] += scratch_[i];
      processed_ = upto;
      moved = true;
    }
    if (processed_ >= reduced_end && arrived > processed_) {
      processed_ = arrived;
      moved = true;
    }
    return moved;
  }

  // "done" to the left (all of its data arrived), then the right neighbour's.
  absl::Status ExchangeDone(absl::Time deadline) {
    char done = kDirectDone;
    while (true) {
      ASSIGN_OR_RETURN(const size_t n, left_.SendSome({absl::Span<char>(&done, 1)}));
      if (n == 1) break;
      RETURN_IF_ERROR(left_.Wait(false, true, deadline));
    }
    char peer_done = 0;
    while (true) {
      ASSIGN_OR_RETURN(const size_t n, right_.ReceiveSome({absl::Span<char>(&peer_done, 1)}));
      if (n == 1) break;
      RETURN_IF_ERROR(right_.Wait(true, false, deadline));
    }
    if (peer_done != kDirectDone) {
      return absl::DataLossError(absl::StrCat("peer ", right_.peer(), " ended operation with byte ",
                                              int{peer_done}, ", not the end-of-operation byte"));
    }
    return absl::OkStatus();
  }

  DirectLink& left_;
  DirectLink& right_;
  const int parties_;
  const absl::Span<float> data_;
  float* scratch_ = nullptr;
  OperationHeader header_;
  OperationHeader peer_header_;
  Stream to_right_;
  Stream from_left_;
  // Where each step starts in the data streams (one past the last: the end), and the chunk
  // each step receives.
  std::vector<size_t> send_start_;
  std::vector<size_t> receive_start_;
  std::vector<Chunk> receive_chunk_;
  size_t first_send_size_ = 0;
  size_t sent_ = 0;
  size_t received_ = 0;
  size_t processed_ = 0;  // bytes of the data from the left that are final
  int step_ = 0;          // the receiving step processed_ is in
  bool header_checked_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<DirectRing>> DirectRing::Connect(
    KeyValueStore& store, const std::string& key_prefix, int party, int parties,
    const std::string& listen_address, absl::Duration timeout, std::stop_token stop) {
  if (parties < 3 || party < 0 || party >= parties) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a direct ring needs party < parties >= 3, not party ", party, " of ", parties));
  }
  // Every party listens for its right neighbour while it dials its left one, on two threads:
  // one after the other would wait around the ring for ever. A failure on this thread stops
  // the other at once.
  std::stop_source local;
  std::stop_callback forward(stop, [&local] { local.request_stop(); });
  auto right = std::async(std::launch::async, [&] {
    return DirectLink::Connect(store, absl::StrCat(key_prefix, party), 0, listen_address, timeout,
                               local.get_token());
  });
  absl::StatusOr<std::unique_ptr<DirectLink>> left =
      DirectLink::Connect(store, absl::StrCat(key_prefix, Mod(party - 1, parties)), 1,
                          listen_address, timeout, local.get_token());
  if (!left.ok()) local.request_stop();
  absl::StatusOr<std::unique_ptr<DirectLink>> right_link = right.get();
  if (!left.ok()) return left.status();
  if (!right_link.ok()) return right_link.status();
  return std::unique_ptr<DirectRing>(
      new DirectRing(party, parties, *std::move(left), *std::move(right_link)));
}

DirectRing::DirectRing(int party, int parties, std::unique_ptr<DirectLink> left,
                       std::unique_ptr<DirectLink> right)
    : party_(party), parties_(parties), left_(std::move(left)), right_(std::move(right)) {}

absl::Status DirectRing::Run(absl::Span<float> data, absl::Duration timeout) {
  if (data.empty()) return absl::OkStatus();
  RingOperation operation(*left_, *right_, party_, parties_, data, next_sequence_++, scratch_);
  const absl::Status status = operation.Run(absl::Now() + timeout);
  // The neighbours fail now rather than at their timeout, and so on around the ring.
  if (!status.ok()) Abort();
  return status;
}

void DirectRing::Abort() {
  left_->Abort();
  right_->Abort();
}

}  // namespace cosched::collectives
