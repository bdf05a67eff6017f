// File: worker/trainer/group_failure.h
// Marks failures of the group, as opposed to this rank's own errors: a peer that died or
// left, a rendezvous that timed out or was superseded, a peer's bytes that did not decode.
// Only the rank's own errors end its part in the job (and count against max_failures).
#pragma once

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace cosched::worker {

inline constexpr absl::string_view kGroupFailure = "type.cosched.dev/GroupFailure";

inline absl::Status GroupFailure(absl::Status status) {
  if (!status.ok()) status.SetPayload(kGroupFailure, absl::Cord("1"));
  return status;
}

inline bool IsGroupFailure(const absl::Status& status) {
  return status.GetPayload(kGroupFailure).has_value();
}

}  // namespace cosched::worker
