// File: collectives/exchange_allreduce.h
// The exchange allreduce (AllreduceAlgorithm::kExchange), a gloo algorithm of cosched's own:
// every rank writes its whole vector into every other rank's inbox and sums what it receives.
// gloo's ring between 2 ranks takes two rounds of messages (reduce-scatter, then allgather);
// this takes one and moves the same bytes, so between 2 ranks (or 2 hosts' leaders) it is the
// cheaper of the two. With more ranks it moves (world - 1) times the vector.
//
// Built like gloo's classic algorithms: buffers registered with the pairs once, bound to one
// vector (GlooGroup's staging buffer for the size), so a call is just the messages.
//
// A run ends with a one-byte "done" to every peer, sent once this rank has summed everything
// it received, and waits for every peer's. It frees the peer's inbox here for the next run,
// and it is what makes a peer that left mid-operation fail everyone's operation: without it a
// rank whose data arrived in full before it aborted would leave its peers a success it never
// had (they would train a step it did not), and a group whose peer left would not notice at
// its next operation. It costs one small message each way: at 4 KiB the exchange is then
// about as fast as the ring; from 1 MiB its single round of data is what counts.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "gloo/algorithm.h"
#include "gloo/transport/buffer.h"

namespace cosched::collectives {

class ExchangeAllreduce : public gloo::Algorithm {
 public:
  // Sums `data[0, count)` in place over the context's ranks on every run(). Every rank must
  // construct it at the same point of its sequence of operations on the context (it takes
  // two gloo slots). Throws what gloo throws.
  ExchangeAllreduce(const std::shared_ptr<gloo::Context>& context, float* data, size_t count);

  // Every rank gets the same bits: the sum is taken in rank order. Pipelined in chunks, so
  // summing one overlaps receiving the next. Throws what gloo throws (a peer that failed, a
  // wait past the context's timeout).
  void run() override;

 private:
  struct Peer {
    int rank;
    const float* inbox;  // where this peer's vector lands
    std::unique_ptr<gloo::transport::Buffer> send_data;
    std::unique_ptr<gloo::transport::Buffer> receive_data;
    std::unique_ptr<gloo::transport::Buffer> send_done;
    std::unique_ptr<gloo::transport::Buffer> receive_done;
  };

  void SumChunk(size_t begin, size_t size);
  const float* VectorOf(int rank) const;

  float* const data_;
  const size_t count_;
  const size_t chunk_;
  std::vector<float> inbox_;  // one vector per peer, then one chunk for the sum (> 2 ranks)
  std::vector<Peer> peers_;   // in rank order
  char done_sent_ = 0;
  std::vector<char> done_received_;  // one byte per peer; only the arrival counts
};

}  // namespace cosched::collectives
