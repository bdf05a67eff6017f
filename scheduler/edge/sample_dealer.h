// File: scheduler/edge/sample_dealer.h
// SampleDealer: the training samples of one edge-tier job, dealt to its replicas round by
// round. The job's replicas (the data-center group, each vehicle) train on separate samples,
// and every sample is trained exactly once per epoch whatever the churn: a replica that is
// late, leaves, cuts its round short or is rejected gives its samples back, and they are dealt
// again before any not yet dealt.
//
// Each epoch deals the N samples in an order shuffled from (seed, epoch) with our own
// Fisher-Yates over std::mt19937_64 (the same order on every machine and standard library).
// Once every sample of an epoch is dealt, the next epoch is dealt while the last of the
// previous are still out, so no replica sits out a round at an epoch's end (with rounds of
// 45,000 samples on a 60,000-sample set, every other round was short of samples). A sample
// given back goes back to its own epoch, and is dealt before any not yet dealt; epochs
// complete in order, each when every one of its samples has been trained. With a limit of
// epochs, no sample of an epoch past it is dealt.
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
  // num_samples >= 1; max_epochs: deal no sample of epoch max_epochs or later (0: no limit).
  SampleDealer(uint64_t num_samples, uint64_t seed, int64_t max_epochs = 0);

  // Up to `count` samples for `replica`: returned samples first (the oldest epoch's first),
  // then the oldest epoch's not yet dealt, then a new epoch's (within the limit).
  // The replica must not hold samples already (Settle or Release first): FAILED_PRECONDITION.
  absl::StatusOr<std::vector<uint32_t>> Deal(const std::string& replica, uint64_t count);
  // `replica` trained what it was dealt except the samples at `unfinished` positions (indices
  // into what Deal returned), which go back. INVALID_ARGUMENT (nothing changes) for a position
  // out of range or repeated. Returns the samples consumed.
  absl::StatusOr<uint64_t> Settle(const std::string& replica,
                                  absl::Span<const uint32_t> unfinished);
  // Everything `replica` holds goes back (it was late, left, or its contribution was rejected).
  void Release(const std::string& replica);

  uint64_t num_samples() const { return num_samples_; }
  uint64_t consumed() const { return consumed_; }  // samples trained, over all epochs
  // Samples trained over the data set's size: completed epochs plus a fraction.
  double epochs_done() const {
    return static_cast<double>(consumed_) / static_cast<double>(num_samples_);
  }
  // Epochs whose every sample has been consumed, counted in order: epoch e counts once it
  // and every epoch before it have.
  // (live_ drops its oldest epochs as they complete, so the oldest live one is the first
  // incomplete epoch.)
  int64_t epochs_completed() const { return live_.empty() ? started_ : live_.begin()->first; }
  // Samples `replica` holds (dealt, not settled).
  uint64_t held_by(const std::string& replica) const;

 private:
  struct Epoch {
    std::vector<uint32_t> order;    // the shuffled sample order
    uint64_t next = 0;              // order[next..] not dealt yet
    std::deque<uint32_t> returned;  // given back, dealt before any of order[next..]
    uint64_t consumed = 0;
  };
  struct Dealt {
    int64_t epoch;
    uint32_t sample;
  };

  // Epoch `started_` begins: its order is drawn and it joins the live epochs.
  Epoch& StartEpoch();

  const uint64_t num_samples_;
  const uint64_t seed_;
  const int64_t max_epochs_;  // 0: no limit
  uint64_t consumed_ = 0;
  int64_t started_ = 0;  // epochs [0, started_) have been started
  // Started and not yet counted completed (an epoch consumed before an older one stays
  // until that one is), oldest first.
  std::map<int64_t, Epoch> live_;
  std::map<std::string, std::vector<Dealt>> held_;
};

}  // namespace cosched::scheduler::edge
