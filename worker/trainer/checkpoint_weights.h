// File: worker/trainer/checkpoint_weights.h
// A checkpoint file's parameters as a version of a served model (`coschedctl publish MODEL
// --checkpoint FILE`): a model trained elsewhere, or an earlier run's weights, serves like the
// versions a training job publishes. Only the parameters travel; the optimizer state, the
// lease table and the RNG stay in the file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "proto/scheduler.pb.h"
#include "worker/trainer/training_state.h"

namespace cosched::worker {

struct CheckpointVersion {
  std::string model;
  std::optional<int64_t> version;  // nullopt: the checkpoint's step
  double test_accuracy = -1;       // -1: not evaluated
};

// The weights of `state` as version `as.version` (or its step) of `as.model`. INVALID_ARGUMENT
// naming what is wrong: no model name, a negative version, a fingerprint that is not an
// MLP's, or parameters that do not fill its layers.
absl::StatusOr<cosched::v1::ModelWeights> CheckpointWeights(const TrainingState& state,
                                                            const CheckpointVersion& as);

}  // namespace cosched::worker
