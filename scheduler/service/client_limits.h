// File: scheduler/service/client_limits.h
// Per-client limits on the client API, so that one client (a runaway script, a stolen token)
// cannot crowd out the others: how many unfinished jobs it may hold, and how fast it may
// submit jobs and send inference requests (token buckets: a sustained rate with a burst).
// Clients are told apart by their authenticated name (common/tls/authorizer.h).
//
// Thread-safe.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace cosched::scheduler {

struct ClientLimits {
  int max_jobs = 100;               // unfinished jobs one client may hold
  double submits_per_second = 1.0;  // sustained SubmitJob rate
  double submit_burst = 30;
  double infers_per_second = 2000;  // sustained Infer rate
  double infer_burst = 4000;
};

// A token bucket per client: `rate` tokens a second, holding at most `burst`.
class RateLimiter {
 public:
  // `what` names the limit in errors ("SubmitJob calls").
  RateLimiter(std::string what, double rate, double burst)
      : what_(std::move(what)), rate_(rate), burst_(burst) {}

  // Takes one token of `client`'s bucket at `now`; RESOURCE_EXHAUSTED naming the limit when
  // it is empty.
  absl::Status Take(absl::string_view client, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };

  const std::string what_;
  const double rate_;
  const double burst_;
  Mutex mu_;
  std::map<std::string, Bucket, std::less<>> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::scheduler
