// File: tests/support/test_hosts_instance.h
// Who owns which emulated-host state (test_hosts.h), and how it is found and removed.
//
// Every name a TestHosts instance creates starts with its prefix "csh<N>", N in
// [0, kMaxInstances), which is also the index of its /24 inside 198.18.0.0/15:
//   network namespaces  csh<N> (the bridge) and csh<N>-<host>
//   cgroups             <cpu cgroup root>/csh<N>/<host>
//   state directory     /run/cosched-test-hosts/csh<N>/
// Veths and the bridge exist only inside those namespaces and vanish with them; nothing is
// created in the machine's own network namespace or under /etc.
//
// An instance owns its prefix by holding an flock on /run/cosched-test-hosts/csh<N>.lock for
// its whole life. The kernel drops the lock when the owner dies, however it dies, so a lock
// that can be taken means the owner is gone: state under such a prefix is a crashed run's
// leftovers, which RemoveStaleInstances() deletes. Concurrent test processes (ctest -j) each
// claim a free N, so their names and subnets never collide.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cosched::testing {

inline constexpr char kTestHostsStateDir[] = "/run/cosched-test-hosts";
inline constexpr int kMaxTestHostsInstances = 512;  // the /24s of 198.18.0.0/15

// "csh<index>".
std::string InstancePrefix(int index);

// The flock that makes this process the owner of one instance prefix.
class InstanceLock {
 public:
  // Takes the lock of instance `index`; Unavailable if a live process holds it.
  static absl::StatusOr<std::unique_ptr<InstanceLock>> TryClaim(int index);
  // Deletes the lock file, then releases the lock; the last owner also removes
  // kTestHostsStateDir.
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

  int index() const { return index_; }
  const std::string& prefix() const { return prefix_; }

 private:
  InstanceLock(int index, int fd, std::string path);

  const int index_;
  const int fd_;
  const std::string path_;
  const std::string prefix_;
};

// What exists under `prefix` ("netns csh5-h0", "cgroup /sys/fs/cgroup/cpu/csh5", "file
// /run/cosched-test-hosts/csh5.lock", ...); empty when nothing is left.
std::vector<std::string> FindInstanceState(const std::string& prefix);

// Kills every process inside the instance's namespaces and cgroups, then deletes the
// namespaces (with them the veths, the bridge and the qdiscs), the cgroups and the state
// directory. The lock file stays: it belongs to InstanceLock. Keeps going past a failure and
// reports all of them.
absl::Status RemoveInstanceState(const std::string& prefix);

// RemoveInstanceState for every prefix on the machine whose owner is gone.
absl::Status RemoveStaleInstances();

}  // namespace cosched::testing
