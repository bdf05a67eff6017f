// File: scheduler/service/weights_upload.h
// A node's weights, as the scheduler checks them before it keeps them to load onto other nodes
// (SchedulerCore::WeightsArrived): a peer's bytes are not trusted.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/scheduler.pb.h"

namespace cosched::scheduler {

// The upload's weights, serialized, if they are the version it names and hold exactly the
// parameters their layer sizes call for. INVALID_ARGUMENT naming what is wrong otherwise;
// FAILED_PRECONDITION with the node's own reason when it sent none.
absl::StatusOr<std::shared_ptr<const std::string>> CheckWeightsUpload(
    const cosched::v1::WeightsUpload& upload);

}  // namespace cosched::scheduler
