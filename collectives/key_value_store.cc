// File: collectives/key_value_store.cc
#include "collectives/key_value_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cosched::collectives {

namespace {

const absl::Status& StatusOf(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& value) {
  return value.status();
}

// Runs `attempt(slice)` in slices of at most kStopCheckInterval until it gives anything but
// DEADLINE_EXCEEDED, `timeout` has passed, or `stop` is requested (CANCELLED naming `what`).
template <typename Attempt>
auto UntilStopped(absl::Duration timeout, const std::stop_token& stop, absl::string_view what,
                  Attempt attempt) -> decltype(attempt(timeout)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (stop.stop_requested()) {
      return absl::CancelledError(absl::StrCat("stopped while ", what, ": membership moved on"));
    }
    const absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
    const absl::Duration slice = std::min(left, KeyValueStore::kStopCheckInterval);
    auto result = attempt(slice);
    if (result.ok() || !absl::IsDeadlineExceeded(StatusOf(result))) return result;
    if (slice == left) {
      if (slice == timeout) return result;
      // The store's message names only the last slice's wait ("after 13ms"): say how long
      // this waited in all.
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": nothing within ", absl::FormatDuration(timeout), " (",
                       StatusOf(result).message(), " in the last check)"));
    }
  }
}

}  // namespace

absl::Status KeyValueStore::WaitUnlessStopped(const std::vector<std::string>& keys,
                                              absl::Duration timeout, std::stop_token stop) {
  if (!stop.stop_possible()) return Wait(keys, timeout);
  return UntilStopped(timeout, stop, "waiting for rendezvous keys",
                      [&](absl::Duration slice) { return Wait(keys, slice); });
}

absl::StatusOr<std::vector<char>> KeyValueStore::GetUnlessStopped(absl::string_view key,
                                                                  absl::Duration timeout,
                                                                  std::stop_token stop) {
  if (!stop.stop_possible()) return Get(key, timeout);
  return UntilStopped(timeout, stop, "getting a rendezvous key",
                      [&](absl::Duration slice) { return Get(key, slice); });
}

}  // namespace cosched::collectives
