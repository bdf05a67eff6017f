// File: scheduler/plugins/builtin_plugins.h
// The plugins cosched ships. Each has one job; a profile (configs/scheduler.yaml) enables
// them by name through the registry (plugin_registry.h).
#pragma once

#include <memory>

#include "absl/time/time.h"
#include "scheduler/plugins/plugin.h"

namespace cosched::scheduler {

// Filter: the node is ready, free, and has the CPUs and memory one rank asks for.
std::unique_ptr<PlacementPlugin> MakeResourceFit();

// Filter: a job that asks for data-center nodes (or vehicles) gets only those.
// Score: a job that takes any kind prefers data-center nodes, which do not drive away.
std::unique_ptr<PlacementPlugin> MakeKindPreference();

// Filter: the node's link meets the job's minimum. Score: faster links score higher, up to
// `saturation_mbps` (beyond which the allreduce is no longer link-bound).
std::unique_ptr<PlacementPlugin> MakeLinkBandwidth(double saturation_mbps);

// Score: nodes that left jobs recently score lower; each departure in `window` halves it.
std::unique_ptr<PlacementPlugin> MakeReliability(absl::Duration window);

// Score: spread puts a job's ranks in different zones (fewer shared failures); pack puts
// them together (cheaper allreduce).
enum class SpreadMode { kSpread, kPack };
std::unique_ptr<PlacementPlugin> MakeSpread(SpreadMode mode);

}  // namespace cosched::scheduler
