// File: worker/trainer/checkpoint_weights.cc
#include "worker/trainer/checkpoint_weights.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model_config.h"
#include "common/status_macros.h"

namespace cosched::worker {

absl::StatusOr<cosched::v1::ModelWeights> CheckpointWeights(const TrainingState& state,
                                                            const CheckpointVersion& as) {
  if (as.model.empty()) return absl::InvalidArgumentError("no model name to publish under");
  const int64_t version = as.version.value_or(state.step);
  if (version < 0) {
    return absl::InvalidArgumentError(absl::StrCat("version ", version, " is negative"));
  }
  if (as.test_accuracy > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("test accuracy ", as.test_accuracy, " is above 1 (a fraction, or -1)"));
  }
  ASSIGN_OR_RETURN(const std::vector<int> sizes, FingerprintLayerSizes(state.fingerprint));
  ASSIGN_OR_RETURN(const size_t parameters, MlpParameterCount(sizes));
  if (state.parameters.size() != parameters) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint holds ", state.parameters.size(),
                                                   " parameters; its fingerprint '",
                                                   state.fingerprint, "' calls for ", parameters));
  }
  cosched::v1::ModelWeights weights;
  weights.set_model(as.model);
  weights.set_version(version);
  for (int size : sizes) weights.add_layer_sizes(size);
  // float32 in the host's byte order, as every ModelWeights (worker/inference/model_weights.h).
  weights.set_parameters(state.parameters.data(), state.parameters.size() * sizeof(float));
  weights.set_test_accuracy(as.test_accuracy < 0 ? -1 : as.test_accuracy);
  return weights;
}

}  // namespace cosched::worker
