// File: fuzz/infer_request_fuzz.cc
// An inference request off the wire (a client's InferRequest, as the worker's Inference
// service and the scheduler's routed work decode it): images decode to exactly
// images x 784 floats in [0, 1] or are refused naming the bad one; the deadline is sane.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "worker/inference/inference_wire.h"

namespace {
constexpr int kImageBytes = 784;  // Fashion-MNIST's 28 x 28
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cosched::v1::InferRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<std::vector<float>> images = cosched::worker::DecodeImages(request, kImageBytes);
  if (images.ok()) {
    if (images->size() != static_cast<size_t>(request.images_size()) * kImageBytes) std::abort();
    for (float pixel : *images) {
      if (!(pixel >= 0.0f && pixel <= 1.0f)) std::abort();
    }
  }
  const absl::Time arrival = absl::UnixEpoch() + absl::Hours(1);
  const absl::Time deadline =
      cosched::worker::RequestDeadline(request, arrival, absl::Milliseconds(20));
  if (deadline < arrival) std::abort();
  return 0;
}
