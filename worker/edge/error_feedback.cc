// File: worker/edge/error_feedback.cc
#include "worker/edge/error_feedback.h"

#include <cmath>

#include "common/logging.h"

namespace cosched::worker::edge {

std::string ErrorFeedback::Encode(absl::Span<const float> values) {
  COSCHED_CHECK(values.size() == carried_.size(), "a tensor of {} values in a stream of {}",
                values.size(), carried_.size());
  for (size_t i = 0; i < values.size(); ++i) corrected_[i] = values[i] + carried_[i];
  std::string bytes = Compress(compression_, corrected_);
  // Decoding our own bytes cannot fail: they have the size Compress gave them.
  const absl::Status decoded =
      Decompress(compression_, bytes, absl::MakeSpan(decoded_), "own encoding");
  COSCHED_CHECK(decoded.ok(), "{}", decoded.ToString());
  for (size_t i = 0; i < values.size(); ++i) {
    const float lost = corrected_[i] - decoded_[i];
    carried_[i] = std::isfinite(lost) ? lost : 0.0f;
  }
  return bytes;
}

}  // namespace cosched::worker::edge
