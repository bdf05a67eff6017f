// File: scheduler/service/client_limits.cc
#include "scheduler/service/client_limits.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace cosched::scheduler {

namespace {
// Buckets of clients idle long enough to be full again are forgotten past this many.
constexpr size_t kMaxBuckets = 10000;
}  // namespace

absl::Status RateLimiter::Take(absl::string_view client, absl::Time now) {
  MutexLock lock(&mu_);
  auto it = buckets_.find(client);
  if (it == buckets_.end()) {
    if (buckets_.size() >= kMaxBuckets) {
      std::erase_if(buckets_, [&](const auto& entry) {
        return entry.second.tokens + absl::ToDoubleSeconds(now - entry.second.refilled) * rate_ >=
               burst_;
      });
    }
    it = buckets_.emplace(std::string(client), Bucket{burst_, now}).first;
  }
  Bucket& bucket = it->second;
  bucket.tokens = std::min(
      burst_, bucket.tokens + std::max(0.0, absl::ToDoubleSeconds(now - bucket.refilled)) * rate_);
  bucket.refilled = std::max(bucket.refilled, now);
  if (bucket.tokens < 1) {
    return absl::ResourceExhaustedError(absl::StrCat("client ", client, " exceeds its limit of ",
                                                     rate_, " ", what_, " a second (bursts of ",
                                                     burst_, "); retry later"));
  }
  bucket.tokens -= 1;
  return absl::OkStatus();
}

}  // namespace cosched::scheduler
