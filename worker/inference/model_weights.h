// File: worker/inference/model_weights.h
// A model version's weights as they travel over the scheduler session (proto ModelWeights):
// sent by a node that serves the version when the scheduler asks, and loaded by an idle node
// the scheduler picks to serve it. Parameters travel as float32 in the host's byte order,
// little-endian on every machine cosched runs on (x86-64, arm64).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/scheduler.pb.h"
#include "worker/inference/inference_engine.h"
#include "worker/models/mlp.h"

namespace cosched::worker {

cosched::v1::ModelWeights EncodeWeights(const ModelVersion& version, const Mlp& model,
                                        absl::Span<const float> params, const std::string& job);

// What a node needs to serve a version it was sent.
struct LoadedWeights {
  ModelVersion version;
  std::string job;
  Mlp model;
  std::vector<float> params;
};

// INVALID_ARGUMENT naming what is wrong: no model name, a negative version, layer sizes no MLP
// has, parameter bytes that do not match them, or a parameter that is not finite.
absl::StatusOr<LoadedWeights> DecodeWeights(const cosched::v1::ModelWeights& weights);

}  // namespace cosched::worker
