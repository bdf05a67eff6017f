// File: scheduler/edge/sample_dealer.cc
#include "scheduler/edge/sample_dealer.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace cosched::scheduler::edge {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A uniform value in [0, n) by rejection: std::uniform_int_distribution differs between
// standard libraries, this does not.
uint64_t Bounded(std::mt19937_64& rng, uint64_t n) {
  const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
  while (true) {
    const uint64_t r = rng();
    if (r >= threshold) return r % n;
  }
}

// 0..n-1 in the order of a Fisher-Yates shuffle drawn from `seed`.
std::vector<uint32_t> ShuffledOrder(size_t n, uint64_t seed) {
  std::vector<uint32_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  std::mt19937_64 rng(seed);
  for (size_t i = n; i > 1; --i) {
    const size_t j = static_cast<size_t>(Bounded(rng, i));
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

}  // namespace

SampleDealer::SampleDealer(uint64_t num_samples, uint64_t seed) : seed_(seed) {
  COSCHED_CHECK(num_samples >= 1 && num_samples <= (uint64_t{1} << 32),
                "SampleDealer needs 1..2^32 samples, got {}", num_samples);
  order_.resize(num_samples);
  StartEpoch(0);
}

void SampleDealer::StartEpoch(int64_t epoch) {
  epoch_ = epoch;
  consumed_ = 0;
  next_ = 0;
  returned_.clear();
  order_ =
      ShuffledOrder(order_.size(), SplitMix64(seed_ ^ SplitMix64(static_cast<uint64_t>(epoch))));
}

absl::StatusOr<std::vector<uint32_t>> SampleDealer::Deal(const std::string& replica,
                                                         uint64_t count) {
  if (held_by(replica) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("replica '", replica, "' still holds ", held_by(replica), " samples of epoch ",
                     epoch_, ": settle or release them before a new deal"));
  }
  if (count > 0 && consumed_ == order_.size()) StartEpoch(epoch_ + 1);
  std::vector<uint32_t> samples;
  while (samples.size() < count && !returned_.empty()) {
    samples.push_back(returned_.front());
    returned_.pop_front();
  }
  while (samples.size() < count && next_ < order_.size()) samples.push_back(order_[next_++]);
  if (!samples.empty()) held_[replica] = samples;
  return samples;
}

absl::StatusOr<uint64_t> SampleDealer::Settle(const std::string& replica,
                                              absl::Span<const uint32_t> unfinished) {
  auto it = held_.find(replica);
  const size_t dealt = it == held_.end() ? 0 : it->second.size();
  std::vector<bool> seen(dealt, false);
  for (uint32_t position : unfinished) {
    if (position >= dealt) {
      return absl::InvalidArgumentError(
          absl::StrCat("unfinished position ", position, " of replica '", replica,
                       "' is out of range: it was dealt ", dealt, " samples"));
    }
    if (seen[position]) {
      return absl::InvalidArgumentError(absl::StrCat("unfinished position ", position,
                                                     " of replica '", replica, "' is repeated"));
    }
    seen[position] = true;
  }
  if (it == held_.end()) return 0;
  for (uint32_t position : unfinished) returned_.push_back(it->second[position]);
  const uint64_t trained = dealt - unfinished.size();
  consumed_ += trained;
  held_.erase(it);
  return trained;
}

void SampleDealer::Release(const std::string& replica) {
  auto it = held_.find(replica);
  if (it == held_.end()) return;
  for (uint32_t sample : it->second) returned_.push_back(sample);
  held_.erase(it);
}

double SampleDealer::epochs_done() const {
  return static_cast<double>(epoch_) +
         static_cast<double>(consumed_) / static_cast<double>(order_.size());
}

uint64_t SampleDealer::held_by(const std::string& replica) const {
  auto it = held_.find(replica);
  return it == held_.end() ? 0 : it->second.size();
}

}  // namespace cosched::scheduler::edge
