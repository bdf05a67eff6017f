// File: collectives/exchange_allreduce.cc
#include "collectives/exchange_allreduce.h"

#include <algorithm>

#include "gloo/context.h"
#include "gloo/transport/pair.h"

namespace cosched::collectives {
namespace {

// Small enough that the first chunk's sum starts early, large enough that a chunk's
// per-message cost (a header and a wake-up of gloo's loop thread) stays small against its bytes.
constexpr size_t kChunkFloats = 256 * 1024;  // 1 MiB

}  // namespace

ExchangeAllreduce::ExchangeAllreduce(const std::shared_ptr<gloo::Context>& context, float* data,
                                     size_t count)
    : gloo::Algorithm(context),
      data_(data),
      count_(count),
      chunk_(std::max<size_t>(1, std::min(count, kChunkFloats))) {
  const size_t peers = static_cast<size_t>(contextSize_ - 1);
  inbox_.resize(peers * count_ + (contextSize_ > 2 ? chunk_ : 0));
  done_received_.resize(peers);
  const int data_slot = context_->nextSlot();
  const int done_slot = context_->nextSlot();
  const size_t bytes = count_ * sizeof(float);
  for (int rank = 0; rank < contextSize_; ++rank) {
    if (rank == contextRank_) continue;
    const size_t index = peers_.size();
    float* inbox = inbox_.data() + index * count_;
    auto& pair = getPair(rank);
    peers_.push_back(Peer{
        rank,
        inbox,
        pair->createSendBuffer(data_slot, data_, bytes),
        pair->createRecvBuffer(data_slot, inbox, bytes),
        pair->createSendBuffer(done_slot, &done_sent_, 1),
        pair->createRecvBuffer(done_slot, &done_received_[index], 1),
    });
  }
}

const float* ExchangeAllreduce::VectorOf(int rank) const {
  if (rank == contextRank_) return data_;
  return peers_[static_cast<size_t>(rank < contextRank_ ? rank : rank - 1)].inbox;
}

void ExchangeAllreduce::SumChunk(size_t begin, size_t size) {
  float* out = data_ + begin;
  if (contextSize_ == 2) {
    // a + b and b + a are the same float, so both ranks get the same bits.
    const float* theirs = VectorOf(1 - contextRank_) + begin;
    for (size_t i = 0; i < size; ++i) out[i] += theirs[i];
    return;
  }
  float* sum = inbox_.data() + peers_.size() * count_;
  const float* first = VectorOf(0) + begin;
  const float* second = VectorOf(1) + begin;
  for (size_t i = 0; i < size; ++i) sum[i] = first[i] + second[i];
  for (int rank = 2; rank < contextSize_; ++rank) {
    const float* next = VectorOf(rank) + begin;
    for (size_t i = 0; i < size; ++i) sum[i] += next[i];
  }
  std::copy(sum, sum + size, out);
}

void ExchangeAllreduce::run() {
  if (peers_.empty() || count_ == 0) return;
  const size_t chunks = (count_ + chunk_ - 1) / chunk_;
  const auto size_of = [&](size_t c) { return std::min(count_, (c + 1) * chunk_) - c * chunk_; };
  // Every peer's inbox here was freed by its "done" of the last run, so all of it goes now.
  for (size_t c = 0; c < chunks; ++c) {
    const size_t offset = c * chunk_ * sizeof(float);
    for (Peer& peer : peers_) peer.send_data->send(offset, size_of(c) * sizeof(float), offset);
  }
  // A buffer's completions come in the order its messages went, so the c-th wait on a peer
  // returns once chunk c is through in that direction. A chunk is summed in place, so it must
  // also have left for every peer.
  for (size_t c = 0; c < chunks; ++c) {
    for (Peer& peer : peers_) {
      peer.receive_data->waitRecv();
      peer.send_data->waitSend();
    }
    SumChunk(c * chunk_, size_of(c));
  }
  for (Peer& peer : peers_) peer.send_done->send();
  for (Peer& peer : peers_) {
    peer.receive_done->waitRecv();
    peer.send_done->waitSend();
  }
}

}  // namespace cosched::collectives
