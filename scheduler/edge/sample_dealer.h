// File: scheduler/edge/sample_dealer.h
// SampleDealer: the training samples of one edge-tier job, dealt to its replicas round by
// round. The job's replicas (the data-center group, each vehicle) train on separate samples,
// and every sample is trained exactly once per epoch whatever the churn: a replica that is
// late, leaves, cuts its round short or is rejected gives its samples back, and they are dealt
// again before any not yet dealt.
//
// Each epoch deals the N samples in an order shuffled from (seed, epoch) with our own
// Fisher-Yates over std::mt19937_64 (the same order on every machine and standard library).
// An epoch is never mixed with the next: once every sample of the epoch is dealt, Deal hands
// out nothing until every dealt sample is settled; when all are consumed, the next Deal
// starts epoch + 1.
//
// Not thread-safe: owned by one RoundAggregator.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cosched::scheduler::edge {

class SampleDealer {
 public:
  // num_samples >= 1.
  SampleDealer(uint64_t num_samples, uint64_t seed);

  // Up to `count` samples for `replica`, returned samples first, then the epoch's next ones.
  // The replica must not hold samples already (Settle or Release first): FAILED_PRECONDITION.
  absl::StatusOr<std::vector<uint32_t>> Deal(const std::string& replica, uint64_t count);
  // `replica` trained what it was dealt except the samples at `unfinished` positions (indices
  // into what Deal returned), which go back. INVALID_ARGUMENT (nothing changes) for a position
  // out of range or repeated. Returns the samples consumed.
  absl::StatusOr<uint64_t> Settle(const std::string& replica,
                                  absl::Span<const uint32_t> unfinished);
  // Everything `replica` holds goes back (it was late, left, or its contribution was rejected).
  void Release(const std::string& replica);

  int64_t epoch() const { return epoch_; }  // the epoch being dealt (0-based)
  uint64_t consumed_in_epoch() const { return consumed_; }
  uint64_t num_samples() const { return order_.size(); }
  // Epochs completed so far plus the consumed fraction of the current one.
  double epochs_done() const;
  // Epochs whose every sample has been consumed (the current one counts once its last sample
  // is settled, before the next Deal starts the next epoch).
  int64_t epochs_completed() const { return epoch_ + (consumed_ == order_.size() ? 1 : 0); }
  // Samples `replica` holds (dealt, not settled).
  uint64_t held_by(const std::string& replica) const;

 private:
  void StartEpoch(int64_t epoch);

  uint64_t seed_;
  int64_t epoch_ = 0;
  uint64_t consumed_ = 0;
  std::vector<uint32_t> order_;    // this epoch's shuffled sample order
  uint64_t next_ = 0;              // order_[next_..] not dealt yet
  std::deque<uint32_t> returned_;  // given back, dealt before order_[next_..]
  std::map<std::string, std::vector<uint32_t>> held_;
};

}  // namespace cosched::scheduler::edge
