// File: tests/support/test_hosts_instance.cc
#include "tests/support/test_hosts_instance.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/support/host_cgroup.h"
#include "tests/support/run_command.h"

namespace cosched::testing {
namespace {

constexpr char kNetnsDir[] = "/run/netns";  // where `ip netns add` pins namespaces

// The names in `dir`; none if it does not exist.
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  return names;
}

bool Exists(const std::string& path) {
  std::error_code ignored;
  return std::filesystem::exists(path, ignored);
}

// The instance index in "csh<N>", "csh<N>-..." or "csh<N>.lock"; -1 for any other name.
int ParseInstanceIndex(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "csh")) return -1;
  size_t digits = 0;
  while (digits < name.size() && std::isdigit(static_cast<unsigned char>(name[digits]))) {
    ++digits;
  }
  int index = -1;
  if (digits == 0 || digits > 3 || !absl::SimpleAtoi(name.substr(0, digits), &index)) return -1;
  const absl::string_view rest = name.substr(digits);
  if (!rest.empty() && rest[0] != '-' && rest != ".lock") return -1;
  return index < kMaxTestHostsInstances ? index : -1;
}

bool BelongsTo(const std::string& name, const std::string& prefix) {
  return name == prefix || absl::StartsWith(name, prefix + "-");
}

std::vector<std::string> InstanceNamespaces(const std::string& prefix) {
  std::vector<std::string> out;
  for (const std::string& name : Entries(kNetnsDir)) {
    if (BelongsTo(name, prefix)) out.push_back(name);
  }
  return out;
}

// Processes whose network namespace is the one pinned at /run/netns/<name>. Same test as
// `ip netns pids`, without a process per call: compare the nsfs inode.
std::vector<pid_t> ProcessesInNamespace(const std::string& name) {
  std::vector<pid_t> pids;
  struct stat pinned;
  if (::stat(absl::StrCat(kNetnsDir, "/", name).c_str(), &pinned) != 0) return pids;
  for (const std::string& entry : Entries("/proc")) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry, &pid)) continue;
    struct stat ns;
    if (::stat(absl::StrCat("/proc/", entry, "/ns/net").c_str(), &ns) == 0 &&
        ns.st_dev == pinned.st_dev && ns.st_ino == pinned.st_ino) {
      pids.push_back(pid);
    }
  }
  return pids;
}

std::string StateDir(const std::string& prefix) {
  return absl::StrCat(kTestHostsStateDir, "/", prefix);
}

}  // namespace

std::string InstancePrefix(int index) { return absl::StrCat("csh", index); }

InstanceLock::InstanceLock(int index, int fd, std::string path)
    : index_(index), fd_(fd), path_(std::move(path)), prefix_(InstancePrefix(index)) {}

absl::StatusOr<std::unique_ptr<InstanceLock>> InstanceLock::TryClaim(int index) {
  const std::string path = absl::StrCat(kTestHostsStateDir, "/", InstancePrefix(index), ".lock");
  // An owner that lets go deletes the file before it unlocks, so the file we locked may be
  // one no longer reachable at `path`; then whoever creates the new file races us fairly, and
  // we start over. The same when the last owner removed the directory under our feet.
  for (int attempt = 0; attempt < 10; ++attempt) {
    std::error_code ec;
    std::filesystem::create_directories(kTestHostsStateDir, ec);
    if (ec) {
      return absl::InternalError(absl::StrCat("mkdir ", kTestHostsStateDir, ": ", ec.message()));
    }
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT) continue;
    if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int flock_errno = errno;
      ::close(fd);
      if (flock_errno == EWOULDBLOCK) return absl::UnavailableError(path + " is held");
      return absl::InternalError(absl::StrCat("flock ", path, ": ", std::strerror(flock_errno)));
    }
    struct stat locked, linked;
    if (::fstat(fd, &locked) == 0 && ::stat(path.c_str(), &linked) == 0 &&
        locked.st_dev == linked.st_dev && locked.st_ino == linked.st_ino) {
      // For a person looking at a leftover: which process owns(ed) the prefix.
      const std::string owner = absl::StrCat(::getpid(), "\n");
      if (::ftruncate(fd, 0) != 0 || ::write(fd, owner.data(), owner.size()) < 0) {
        // Informational only; the lock itself is what counts.
      }
      return std::unique_ptr<InstanceLock>(new InstanceLock(index, fd, path));
    }
    ::close(fd);
  }
  return absl::UnavailableError(path + " keeps being replaced");
}

InstanceLock::~InstanceLock() {
  ::unlink(path_.c_str());
  ::close(fd_);
  // The last owner on the machine takes the directory with it; with others it stays
  // (ENOTEMPTY), and a claim racing with this removal makes it again.
  ::rmdir(kTestHostsStateDir);
}

std::vector<std::string> FindInstanceState(const std::string& prefix) {
  std::vector<std::string> found;
  for (const std::string& ns : InstanceNamespaces(prefix)) found.push_back("netns " + ns);
  // Nothing is ever created in the machine's own namespace; a link here would be a bug.
  for (const std::string& link : Entries("/sys/class/net")) {
    if (BelongsTo(link, prefix)) found.push_back("link " + link);
  }
  const std::string cgroup = absl::StrCat(CpuCgroupRoot(), "/", prefix);
  if (Exists(cgroup)) found.push_back("cgroup " + cgroup);
  if (Exists(StateDir(prefix))) found.push_back("directory " + StateDir(prefix));
  const std::string lock = absl::StrCat(kTestHostsStateDir, "/", prefix, ".lock");
  if (Exists(lock)) found.push_back("file " + lock);
  return found;
}

absl::Status RemoveInstanceState(const std::string& prefix) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  std::vector<std::string> errors;
  const std::string cgroup = absl::StrCat(CpuCgroupRoot(), "/", prefix);
  const std::vector<std::string> namespaces = InstanceNamespaces(prefix);

  // SIGKILL until none is left: a process may fork between a scan and the kill (mpirun
  // starting ranks), and a killed process is listed until the kernel has finished its exit.
  // The cgroup finds daemons that left the namespace's process tree; the namespace scan finds
  // processes that never passed through the cgroup (entered with `ip netns exec` directly).
  while (true) {
    std::set<pid_t> pids;
    for (pid_t pid : CgroupProcesses(cgroup)) pids.insert(pid);
    for (const std::string& ns : namespaces) {
      for (pid_t pid : ProcessesInNamespace(ns)) pids.insert(pid);
    }
    pids.erase(::getpid());
    if (pids.empty()) break;
    if (absl::Now() >= deadline) {
      errors.push_back(
          absl::StrCat("processes still alive after SIGKILL: ", absl::StrJoin(pids, " ")));
      break;
    }
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    absl::SleepFor(absl::Milliseconds(5));
  }

  // Deleting a namespace that no process uses frees its veth ends (the other end goes with
  // them), the bridge and the qdiscs.
  for (const std::string& ns : namespaces) {
    if (auto deleted = RunCommand({"ip", "netns", "delete", ns}); !deleted.ok()) {
      errors.push_back(std::string(deleted.status().message()));
    }
  }
  // A program started just before may join the cgroup only now (the wrapper writes its pid
  // there first thing), so kill whatever is in the tree again until the tree is gone. Once it
  // is, a late wrapper fails to join and exits without running its program.
  while (true) {
    for (pid_t pid : CgroupProcesses(cgroup)) {
      if (pid != ::getpid()) ::kill(pid, SIGKILL);
    }
    const absl::Status removed = RemoveCgroupTree(cgroup, /*deadline=*/absl::Now());
    if (removed.ok()) break;
    if (absl::Now() >= deadline) {
      errors.push_back(std::string(removed.message()));
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  std::error_code ec;
  std::filesystem::remove_all(StateDir(prefix), ec);
  if (ec) errors.push_back(absl::StrCat("remove ", StateDir(prefix), ": ", ec.message()));

  if (errors.empty()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("removing test hosts ", prefix, ": ", absl::StrJoin(errors, "; ")));
}

absl::Status RemoveStaleInstances() {
  std::set<int> indices;
  for (const std::string& dir :
       {std::string(kNetnsDir), CpuCgroupRoot(), std::string(kTestHostsStateDir)}) {
    for (const std::string& name : Entries(dir)) {
      if (const int index = ParseInstanceIndex(name); index >= 0) indices.insert(index);
    }
  }
  std::vector<std::string> errors;
  for (const int index : indices) {
    // Held: its owner is alive. Taken: the owner is gone and the state is ours to remove;
    // the lock (and its file) go when `lock` does.
    auto lock = InstanceLock::TryClaim(index);
    if (!lock.ok()) continue;
    if (absl::Status s = RemoveInstanceState((*lock)->prefix()); !s.ok()) {
      errors.push_back(std::string(s.message()));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::InternalError(absl::StrJoin(errors, "; "));
}

}  // namespace cosched::testing
