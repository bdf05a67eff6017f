// File: scheduler/plugins/plugin.cc
#include "scheduler/plugins/plugin.h"

namespace cosched::scheduler {

void PlacementRequest::SetMembers(std::vector<const Node*> nodes) {
  members = std::move(nodes);
  member_zones.clear();
  for (const Node* member : members) ++member_zones[member->info.zone];
}

}  // namespace cosched::scheduler
