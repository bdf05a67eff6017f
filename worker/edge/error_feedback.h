// File: worker/edge/error_feedback.h
// Error feedback for a compressed stream of tensors (as in 1-bit SGD, EF-SGD and DiLoCo's
// compressed variants): what compression loses in one round is added to the next round's
// tensor before it is compressed, so nothing is lost for good. Over T rounds the decoded
// tensors sum to the sent ones minus the error still carried, which stays below one round's
// rounding error (compression.h), however many rounds pass.
#pragma once

#include <string>
#include <vector>

#include "absl/types/span.h"
#include "worker/edge/compression.h"

namespace cosched::worker::edge {

class ErrorFeedback {
 public:
  ErrorFeedback(Compression compression, size_t size)
      : compression_(compression), carried_(size, 0.0f), corrected_(size), decoded_(size) {}

  // `values` (size() of them) plus the carried error, compressed; the carried error becomes
  // what this compression lost. A non-finite input poisons its chunk (compression.h) and is not
  // carried: the error of that round is dropped rather than spread into later ones.
  std::string Encode(absl::Span<const float> values);

  // What the receiver decodes from the last Encode (kept, so the sender need not decode).
  const std::vector<float>& last_decoded() const { return decoded_; }
  const std::vector<float>& carried() const { return carried_; }
  Compression compression() const { return compression_; }
  size_t size() const { return carried_.size(); }

 private:
  Compression compression_;
  std::vector<float> carried_;
  std::vector<float> corrected_;  // values + carried, reused between rounds
  std::vector<float> decoded_;
};

}  // namespace cosched::worker::edge
