// File: scheduler/plugins/link_bandwidth.cc
#include <algorithm>

#include "scheduler/plugins/builtin_plugins.h"

namespace cosched::scheduler {
namespace {

class LinkBandwidth final : public PlacementPlugin {
 public:
  explicit LinkBandwidth(double saturation_mbps) : saturation_mbps_(saturation_mbps) {}
  std::string name() const override { return "link_bandwidth"; }
  std::optional<Rejection> Filter(const PlacementRequest& request,
                                  const Node& node) const override {
    if (node.info.link_mbps < request.spec->min_link_mbps) return "link below the job's minimum";
    return std::nullopt;
  }
  bool scores() const override { return true; }
  double Score(const PlacementRequest& request, const Node& node) const override {
    return 100.0 * std::clamp(node.info.link_mbps / saturation_mbps_, 0.0, 1.0);
  }

 private:
  const double saturation_mbps_;
};

}  // namespace

std::unique_ptr<PlacementPlugin> MakeLinkBandwidth(double saturation_mbps) {
  return std::make_unique<LinkBandwidth>(saturation_mbps > 0 ? saturation_mbps : 1.0);
}

}  // namespace cosched::scheduler
