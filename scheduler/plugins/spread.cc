// File: scheduler/plugins/spread.cc
#include "scheduler/plugins/builtin_plugins.h"

namespace cosched::scheduler {
namespace {

class Spread final : public PlacementPlugin {
 public:
  explicit Spread(SpreadMode mode) : mode_(mode) {}
  std::string name() const override { return mode_ == SpreadMode::kSpread ? "spread" : "pack"; }
  bool scores() const override { return true; }
  double Score(const PlacementRequest& request, const Node& node) const override {
    if (request.members.empty()) return 50;
    const auto it = request.member_zones.find(node.info.zone);
    const int same_zone = it == request.member_zones.end() ? 0 : it->second;
    const double share = static_cast<double>(same_zone) / request.members.size();
    return 100.0 * (mode_ == SpreadMode::kPack ? share : 1.0 - share);
  }

 private:
  const SpreadMode mode_;
};

}  // namespace

std::unique_ptr<PlacementPlugin> MakeSpread(SpreadMode mode) {
  return std::make_unique<Spread>(mode);
}

}  // namespace cosched::scheduler
