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

SampleDealer::SampleDealer(uint64_t num_samples, uint64_t seed, int64_t max_epochs)
    : num_samples_(num_samples), seed_(seed), max_epochs_(max_epochs) {
  COSCHED_CHECK(num_samples >= 1 && num_samples <= (uint64_t{1} << 32),
                "SampleDealer needs 1..2^32 samples, got {}", num_samples);
  COSCHED_CHECK(max_epochs >= 0, "SampleDealer: max_epochs {} is negative", max_epochs);
}

SampleDealer::Epoch& SampleDealer::StartEpoch() {
  const int64_t epoch = started_++;
  Epoch& started = live_[epoch];
  started.order =
      ShuffledOrder(num_samples_, SplitMix64(seed_ ^ SplitMix64(static_cast<uint64_t>(epoch))));
  return started;
}

absl::StatusOr<std::vector<uint32_t>> SampleDealer::Deal(const std::string& replica,
                                                         uint64_t count) {
  if (held_by(replica) > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("replica '", replica, "' still holds ", held_by(replica),
                     " samples: settle or release them before a new deal"));
  }
  std::vector<Dealt> dealt;
  for (auto& [epoch, e] : live_) {
    while (dealt.size() < count && !e.returned.empty()) {
      dealt.push_back({epoch, e.returned.front()});
      e.returned.pop_front();
    }
  }
  for (auto& [epoch, e] : live_) {
    while (dealt.size() < count && e.next < e.order.size()) {
      dealt.push_back({epoch, e.order[e.next++]});
    }
  }
  while (dealt.size() < count && (max_epochs_ == 0 || started_ < max_epochs_)) {
    const int64_t epoch = started_;
    Epoch& e = StartEpoch();
    while (dealt.size() < count && e.next < e.order.size()) {
      dealt.push_back({epoch, e.order[e.next++]});
    }
  }
  std::vector<uint32_t> samples;
  samples.reserve(dealt.size());
  for (const Dealt& d : dealt) samples.push_back(d.sample);
  if (!dealt.empty()) held_[replica] = std::move(dealt);
  return samples;
}

absl::StatusOr<uint64_t> SampleDealer::Settle(const std::string& replica,
                                              absl::Span<const uint32_t> unfinished) {
  auto it = held_.find(replica);
  const size_t dealt = it == held_.end() ? 0 : it->second.size();
  std::vector<bool> back(dealt, false);
  for (uint32_t position : unfinished) {
    if (position >= dealt) {
      return absl::InvalidArgumentError(
          absl::StrCat("unfinished position ", position, " of replica '", replica,
                       "' is out of range: it was dealt ", dealt, " samples"));
    }
    if (back[position]) {
      return absl::InvalidArgumentError(absl::StrCat("unfinished position ", position,
                                                     " of replica '", replica, "' is repeated"));
    }
    back[position] = true;
  }
  if (it == held_.end()) return 0;
  for (uint32_t position : unfinished) {
    const Dealt& d = it->second[position];
    live_.at(d.epoch).returned.push_back(d.sample);
  }
  for (size_t position = 0; position < dealt; ++position) {
    if (!back[position]) ++live_.at(it->second[position].epoch).consumed;
  }
  const uint64_t trained = dealt - unfinished.size();
  consumed_ += trained;
  held_.erase(it);
  while (!live_.empty() && live_.begin()->second.consumed == num_samples_) {
    live_.erase(live_.begin());
  }
  return trained;
}

void SampleDealer::Release(const std::string& replica) {
  auto it = held_.find(replica);
  if (it == held_.end()) return;
  for (const Dealt& d : it->second) live_.at(d.epoch).returned.push_back(d.sample);
  held_.erase(it);
}

uint64_t SampleDealer::held_by(const std::string& replica) const {
  auto it = held_.find(replica);
  return it == held_.end() ? 0 : it->second.size();
}

}  // namespace cosched::scheduler::edge
