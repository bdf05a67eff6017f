// File: scheduler/service/weights_upload.cc
#include "scheduler/service/weights_upload.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/job_config.h"
#include "common/model_config.h"
#include "common/status_macros.h"

namespace cosched::scheduler {

absl::StatusOr<std::shared_ptr<const std::string>> CheckModelWeights(
    const cosched::v1::ModelWeights& weights) {
  if (weights.model().empty()) return absl::InvalidArgumentError("weights name no model");
  if (weights.version() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("weights of ", weights.model(),
                                                   " have a negative version ", weights.version()));
  }
  if (!(weights.test_accuracy() <= 1)) {  // NaN too
    return absl::InvalidArgumentError(absl::StrCat("test_accuracy ", weights.test_accuracy(),
                                                   " is not a fraction (or -1: not evaluated)"));
  }
  const std::vector<int> sizes(weights.layer_sizes().begin(), weights.layer_sizes().end());
  ASSIGN_OR_RETURN(const size_t parameters, MlpParameterCount(sizes));
  if (weights.parameters().size() != parameters * sizeof(float)) {
    return absl::InvalidArgumentError(absl::StrCat("weights hold ", weights.parameters().size(),
                                                   " bytes; layer sizes call for ", parameters,
                                                   " parameters of 4 bytes"));
  }
  auto bytes = std::make_shared<std::string>();
  if (!weights.SerializeToString(bytes.get())) {
    return absl::InvalidArgumentError("weights do not serialize");
  }
  return std::shared_ptr<const std::string>(std::move(bytes));
}

absl::StatusOr<std::shared_ptr<const std::string>> CheckWeightsUpload(
    const cosched::v1::WeightsUpload& upload) {
  if (!upload.error().empty()) return absl::FailedPreconditionError(upload.error());
  const cosched::v1::ModelWeights& weights = upload.weights();
  if (weights.model() != upload.model() || weights.version() != upload.version()) {
    return absl::InvalidArgumentError(absl::StrCat("weights of ", weights.model(), " version ",
                                                   weights.version(), " sent as ", upload.model(),
                                                   " version ", upload.version()));
  }
  return CheckModelWeights(weights);
}

absl::Status CheckPublishedLayers(const cosched::v1::ModelWeights& weights,
                                  const std::string& job_id, const std::string& job_yaml) {
  ASSIGN_OR_RETURN(const JobConfig job, ParseJobConfigText(job_yaml, job_id));
  // Input and output sizes come from the dataset the requests are drawn from; the hidden
  // layers are what the job chose.
  const std::vector<int> sizes(weights.layer_sizes().begin(), weights.layer_sizes().end());
  if (sizes.size() >= 2 && job.model.LayerSizes(sizes.front(), sizes.back()) == sizes) {
    return absl::OkStatus();
  }
  const std::vector<int> hidden =
      sizes.size() >= 2 ? std::vector<int>(sizes.begin() + 1, sizes.end() - 1) : sizes;
  return absl::InvalidArgumentError(
      absl::StrCat("the weights' hidden layers are [", absl::StrJoin(hidden, ", "), "]; job ",
                   job_id, ", which trains model '", weights.model(), "', has [",
                   absl::StrJoin(job.model.hidden_sizes, ", "), "]"));
}

}  // namespace cosched::scheduler
