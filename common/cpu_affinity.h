// File: common/cpu_affinity.h
// Binding a process to CPUs, as `mpirun --bind-to core` does for its ranks. A training rank
// that always runs on the same core keeps its caches warm, and the inference it serves runs
// on that core too, so it interrupts its own rank (which yields and gets help from its peers)
// instead of a peer in the middle of a step.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cosched {

// Parses a CPU list such as "0", "0,2" or "0-3,6": ascending or not, no duplicates kept.
// InvalidArgument naming the bad part otherwise.
absl::StatusOr<std::vector<int>> ParseCpuList(absl::string_view list);

// Binds the calling thread, and so every thread it starts afterwards, to `cpus`. Call it
// before the process starts threads. InvalidArgument for a CPU this process may not use.
absl::Status BindToCpus(const std::vector<int>& cpus);

// The CPUs this process may run on now, ascending.
std::vector<int> AllowedCpus();

}  // namespace cosched
