// File: common/host_memory.h
// How much memory this worker can give to jobs: the host's physical memory, or less when the
// process runs under a cgroup memory limit (a container, a Kubernetes pod, a systemd slice).
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"

namespace cosched {

// min(MemTotal from /proc/meminfo, the cgroup v2 memory.max or v1 memory.limit_in_bytes of
// this process's cgroup, when one is set). Unavailable if /proc/meminfo cannot be read.
absl::StatusOr<int64_t> UsableMemoryBytes();

}  // namespace cosched
