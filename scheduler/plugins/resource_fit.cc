// File: scheduler/plugins/resource_fit.cc
#include "absl/strings/str_cat.h"
#include "scheduler/plugins/builtin_plugins.h"

namespace cosched::scheduler {
namespace {

class ResourceFit final : public PlacementPlugin {
 public:
  std::string name() const override { return "resource_fit"; }
  std::optional<std::string> Filter(const PlacementRequest& request,
                                    const Node& node) const override {
    if (node.state == NodeState::kLost) return "lost";
    if (node.state == NodeState::kIneligible) {
      return absl::StrCat("ineligible (", node.ineligible_reason, ")");
    }
    if (!node.free()) return node.job == request.job ? "already a member" : "busy";
    if (node.reserved_for_inference) return "reserved for inference";
    if (node.info.cpus < request.spec->cpus_per_worker) {
      return absl::StrCat("needs ", request.spec->cpus_per_worker, " cpus");
    }
    if (node.info.memory_bytes < request.spec->memory_per_worker) return "not enough memory";
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<PlacementPlugin> MakeResourceFit() { return std::make_unique<ResourceFit>(); }

}  // namespace cosched::scheduler
