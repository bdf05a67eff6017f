// File: scheduler/service/model_status.cc
#include "scheduler/service/model_status.h"

#include <map>
#include <string>
#include <vector>

namespace cosched::scheduler {

void FillModelStatus(const SchedulerCore& core, const ServedModel& model,
                     cosched::v1::ModelStatus* out) {
  out->set_model(model.name);
  out->set_job_id(model.job);
  out->set_policy(PromotionPolicyName(model.policy));
  out->set_max_staleness_steps(model.max_staleness_steps);
  out->set_pinned(model.pinned);
  out->set_serving_version(model.serving.value_or(-1));
  if (model.serving.has_value()) {
    out->set_serving_since_unix_seconds(
        absl::ToDoubleSeconds(model.serving_since - absl::UnixEpoch()));
  }
  if (const absl::StatusOr<VersionRange> range = core.models().Acceptable(model.name); range.ok()) {
    out->set_acceptable_min_version(range->min);
    if (range->max != VersionRange().max) out->set_acceptable_max_version(range->max);
  }
  std::map<int64_t, std::vector<std::string>> holders;
  for (const Node* node : core.Nodes()) {
    if (node->state != NodeState::kLost && node->served.has_value() &&
        node->served->model == model.name) {
      holders[node->served->version].push_back(node->info.id);
    }
  }
  for (auto it = model.versions.rbegin(); it != model.versions.rend(); ++it) {
    const ModelVersionRecord& record = it->second;
    cosched::v1::ModelVersionStatus* version = out->add_versions();
    version->set_version(record.version);
    version->set_job_id(record.job);
    version->set_checkpoint(record.checkpoint);
    version->set_published_unix_seconds(
        absl::ToDoubleSeconds(record.published - absl::UnixEpoch()));
    version->set_test_accuracy(record.test_accuracy);
    version->set_serving(model.serving == record.version);
    for (const std::string& node : holders[record.version]) version->add_nodes(node);
  }
}

}  // namespace cosched::scheduler
