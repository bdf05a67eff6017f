// File: scheduler/service/model_status.h
// A served model as the Scheduler API shows it (ListModels, PromoteModel): its registry entry
// (scheduler/core/model_registry.h) and the nodes that hold each version now.
#pragma once

#include "proto/scheduler.pb.h"
#include "scheduler/core/scheduler_core.h"

namespace cosched::scheduler {

// Runs on the core's loop thread. Versions newest first.
void FillModelStatus(const SchedulerCore& core, const ServedModel& model,
                     cosched::v1::ModelStatus* out);

}  // namespace cosched::scheduler
