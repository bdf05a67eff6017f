// File: tests/support/host_cgroup.h
// CPU cgroups for emulated test hosts (see test_hosts.h). Every host gets one, capped or
// not, for two reasons: a CPU quota (HostSpec::cpu_fraction) and a complete list of the
// host's processes at teardown, including daemons that left our process tree (Open MPI's
// `orted --daemonize`), which a process-tree walk would miss.
//
// Both layouts are handled: cgroup v2 when /sys/fs/cgroup/cgroup.controllers exists (quota in
// cpu.max), otherwise v1 with the cpu controller mounted at /sys/fs/cgroup/cpu (quota in
// cpu.cfs_quota_us). Functions, no state: a crashed owner's cgroups are found again by path.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace cosched::testing {

// The directory new CPU cgroups go under: /sys/fs/cgroup (v2) or /sys/fs/cgroup/cpu (v1).
std::string CpuCgroupRoot();

// mkdir `path` (its parent must exist) and, when cpu_fraction > 0, cap it at that many CPUs
// (0.5 = half a core, 2 = two cores) with a 100 ms period. On v2 this first enables the cpu
// controller in the parent's cgroup.subtree_control.
absl::Status CreateCpuCgroup(const std::string& path, double cpu_fraction);

// Every process in `path` and the cgroups below it.
std::vector<pid_t> CgroupProcesses(const std::string& path);

// Removes `path` and the cgroups below it, deepest first. A cgroup that still holds
// processes cannot be removed (EBUSY), and a killed process leaves it only once the kernel has
// finished its exit, so EBUSY is retried until `deadline`. OK if `path` does not exist.
absl::Status RemoveCgroupTree(const std::string& path, absl::Time deadline);

// Writes `content` to an existing file (a cgroup or proc knob); the error names the file.
absl::Status WriteKnob(const std::string& path, const std::string& content);

}  // namespace cosched::testing
