// File: scheduler/service/weights_upload.h
// Weights the scheduler is given to keep and load onto nodes: a node's upload (SchedulerCore::
// WeightsArrived) or a version published from a checkpoint (PublishModelVersion). Neither a
// peer's bytes nor a client's are trusted.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/scheduler.pb.h"

namespace cosched::scheduler {

// The weights, serialized, if they name a model and a version >= 0, hold exactly the
// parameters their layer sizes call for, and give a test accuracy no higher than 1 (< 0: not
// evaluated). INVALID_ARGUMENT naming what is wrong otherwise.
absl::StatusOr<std::shared_ptr<const std::string>> CheckModelWeights(
    const cosched::v1::ModelWeights& weights);

// The upload's weights, checked as above, if they are the version it names.
// FAILED_PRECONDITION with the node's own reason when it sent none.
absl::StatusOr<std::shared_ptr<const std::string>> CheckWeightsUpload(
    const cosched::v1::WeightsUpload& upload);

// A version published for a model that a job trains must have the hidden layers of the job's
// model (`job_yaml`, as submitted). INVALID_ARGUMENT naming both otherwise.
absl::Status CheckPublishedLayers(const cosched::v1::ModelWeights& weights,
                                  const std::string& job_id, const std::string& job_yaml);

}  // namespace cosched::scheduler
