// File: collectives/key_value_store.cc
#include "collectives/key_value_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cosched::collectives {

namespace {

absl::Status Stopped(absl::string_view what) {
  return absl::CancelledError(absl::StrCat("stopped while ", what, ": membership moved on"));
}

}  // namespace

absl::Status KeyValueStore::WaitUnlessStopped(const std::vector<std::string>& keys,
                                              absl::Duration timeout, std::stop_token stop) {
  if (!stop.stop_possible()) return Wait(keys, timeout);
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (stop.stop_requested()) return Stopped("waiting for rendezvous keys");
    const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
    const absl::Duration slice = std::min(left, kStopCheckInterval);
    const absl::Status status = Wait(keys, slice);
    if (status.ok() || status.code() != absl::StatusCode::kDeadlineExceeded || slice == left) {
      return status;
    }
  }
}

absl::StatusOr<std::vector<char>> KeyValueStore::GetUnlessStopped(absl::string_view key,
                                                                  absl::Duration timeout,
                                                                  std::stop_token stop) {
  if (!stop.stop_possible()) return Get(key, timeout);
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (stop.stop_requested()) return Stopped("getting a rendezvous key");
    const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
    const absl::Duration slice = std::min(left, kStopCheckInterval);
    absl::StatusOr<std::vector<char>> value = Get(key, slice);
    if (value.ok() || value.status().code() != absl::StatusCode::kDeadlineExceeded ||
        slice == left) {
      return value;
    }
  }
}

}  // namespace cosched::collectives
