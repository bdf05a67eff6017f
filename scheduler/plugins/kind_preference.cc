// File: scheduler/plugins/kind_preference.cc
#include "absl/strings/str_cat.h"
#include "scheduler/plugins/builtin_plugins.h"

namespace cosched::scheduler {
namespace {

class KindPreferencePlugin final : public PlacementPlugin {
 public:
  std::string name() const override { return "kind_preference"; }
  std::optional<Rejection> Filter(const PlacementRequest& request,
                                  const Node& node) const override {
    const KindPreference want = request.spec->kind;
    if (want == KindPreference::kDatacenter && node.info.kind != NodeKind::kDatacenter) {
      return "job wants datacenter nodes";
    }
    if (want == KindPreference::kVehicle && node.info.kind != NodeKind::kVehicle) {
      return "job wants vehicles";
    }
    return std::nullopt;
  }
  bool scores() const override { return true; }
  double Score(const PlacementRequest& request, const Node& node) const override {
    return node.info.kind == NodeKind::kDatacenter ? 100 : 40;
  }
};

}  // namespace

std::unique_ptr<PlacementPlugin> MakeKindPreference() {
  return std::make_unique<KindPreferencePlugin>();
}

}  // namespace cosched::scheduler
