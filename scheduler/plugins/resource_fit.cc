// File: scheduler/plugins/resource_fit.cc
#include "scheduler/plugins/builtin_plugins.h"

namespace cosched::scheduler {
namespace {

class ResourceFit final : public PlacementPlugin {
 public:
  std::string name() const override { return "resource_fit"; }
  std::optional<Rejection> Filter(const PlacementRequest& request,
                                  const Node& node) const override {
    if (node.state == NodeState::kLost) return "lost";
    if (node.state == NodeState::kDraining) return "draining";
    if (node.state == NodeState::kIneligible) return "ineligible";
    if (!node.free()) return node.job == request.job ? "already a member" : "busy";
    if (node.reserved_for_inference) return "reserved for inference";
    if (node.info.cpus < request.spec->cpus_per_worker) return "fewer cpus than the job needs";
    if (node.info.memory_bytes < request.spec->memory_per_worker) {
      return "less memory than the job needs";
    }
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<PlacementPlugin> MakeResourceFit() { return std::make_unique<ResourceFit>(); }

}  // namespace cosched::scheduler
