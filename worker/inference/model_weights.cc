// File: worker/inference/model_weights.cc
#include "worker/inference/model_weights.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched::worker {

cosched::v1::ModelWeights EncodeWeights(const ModelVersion& version, const Mlp& model,
                                        absl::Span<const float> params, const std::string& job) {
  cosched::v1::ModelWeights weights;
  weights.set_model(version.model);
  weights.set_version(version.step);
  for (int size : model.layer_sizes()) weights.add_layer_sizes(size);
  weights.set_parameters(reinterpret_cast<const char*>(params.data()),
                         params.size() * sizeof(float));
  weights.set_test_accuracy(version.test_accuracy);
  weights.set_published_unix_seconds(absl::ToDoubleSeconds(version.published - absl::UnixEpoch()));
  weights.set_job_id(job);
  return weights;
}

absl::StatusOr<LoadedWeights> DecodeWeights(const cosched::v1::ModelWeights& weights) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("weights of '", weights.model(), "' version ", weights.version(), ": ", why));
  };
  if (weights.model().empty()) return bad("no model name");
  if (weights.version() < 0) return bad("a negative version");
  absl::StatusOr<Mlp> model =
      Mlp::Create(std::vector<int>(weights.layer_sizes().begin(), weights.layer_sizes().end()));
  if (!model.ok()) return bad(std::string(model.status().message()));
  const size_t count = model->num_parameters();
  if (weights.parameters().size() != count * sizeof(float)) {
    return bad(absl::StrCat(weights.parameters().size(),
                            " parameter bytes; the layer sizes call for ", count,
                            " parameters of 4 bytes"));
  }
  std::vector<float> params(count);
  std::memcpy(params.data(), weights.parameters().data(), weights.parameters().size());
  for (size_t i = 0; i < count; ++i) {
    if (!std::isfinite(params[i])) return bad(absl::StrCat("parameter ", i, " is not finite"));
  }
  ModelVersion version;
  version.model = weights.model();
  version.step = weights.version();
  version.test_accuracy = weights.test_accuracy();
  version.published = absl::UnixEpoch() + absl::Seconds(weights.published_unix_seconds());
  return LoadedWeights{std::move(version), weights.job_id(), *std::move(model), std::move(params)};
}

}  // namespace cosched::worker
