// File: scheduler/service/weights_upload.cc
#include "scheduler/service/weights_upload.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model_config.h"
#include "common/status_macros.h"

namespace cosched::scheduler {

absl::StatusOr<std::shared_ptr<const std::string>> CheckWeightsUpload(
    const cosched::v1::WeightsUpload& upload) {
  if (!upload.error().empty()) return absl::FailedPreconditionError(upload.error());
  const cosched::v1::ModelWeights& weights = upload.weights();
  if (weights.model() != upload.model() || weights.version() != upload.version()) {
    return absl::InvalidArgumentError(absl::StrCat("weights of ", weights.model(), " version ",
                                                   weights.version(), " sent as ", upload.model(),
                                                   " version ", upload.version()));
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

}  // namespace cosched::scheduler
