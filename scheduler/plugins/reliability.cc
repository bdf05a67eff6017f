// File: scheduler/plugins/reliability.cc
#include <cmath>

#include "scheduler/plugins/builtin_plugins.h"

namespace cosched::scheduler {
namespace {

class Reliability final : public PlacementPlugin {
 public:
  explicit Reliability(absl::Duration window) : window_(window) {}
  std::string name() const override { return "reliability"; }
  bool scores() const override { return true; }
  double Score(const PlacementRequest& request, const Node& node) const override {
    int recent = 0;
    for (absl::Time t : node.departures) {  // most recent first
      if (request.now - t > window_) break;
      ++recent;
    }
    return 100.0 * std::ldexp(1.0, -recent);
  }

 private:
  const absl::Duration window_;
};

}  // namespace

std::unique_ptr<PlacementPlugin> MakeReliability(absl::Duration window) {
  return std::make_unique<Reliability>(window);
}

}  // namespace cosched::scheduler
