// File: worker/inference/inference_wire.h
// Conversions between the wire (proto/inference.proto) and the engine: shared by the
// worker's own Inference gRPC service and by inference work that arrives on the scheduler
// session.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/inference.pb.h"
#include "worker/inference/inference_engine.h"

namespace cosched::worker {

// The request's images as floats in [0, 1]; INVALID_ARGUMENT names a malformed image.
absl::StatusOr<std::vector<float>> DecodeImages(const cosched::v1::InferRequest& request,
                                                int image_bytes);

// The deadline a request asks for, measured from `arrival`.
absl::Time RequestDeadline(const cosched::v1::InferRequest& request, absl::Time arrival,
                           absl::Duration default_deadline);

void FillReply(const InferenceResult& result, cosched::v1::InferReply* reply);

}  // namespace cosched::worker
