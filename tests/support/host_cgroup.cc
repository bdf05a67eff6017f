// File: tests/support/host_cgroup.cc
#include "tests/support/host_cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cosched::testing {
namespace {

constexpr int64_t kPeriodMicros = 100000;

bool IsCgroupV2() {
  std::error_code ignored;
  return std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers", ignored);
}

// The subdirectories of `path`, deepest first, then `path` itself.
std::vector<std::string> DepthFirst(const std::string& path) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      std::vector<std::string> below = DepthFirst(it->path().string());
      out.insert(out.end(), below.begin(), below.end());
    }
  }
  out.push_back(path);
  return out;
}

}  // namespace

std::string CpuCgroupRoot() { return IsCgroupV2() ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu"; }

absl::Status WriteKnob(const std::string& path, const std::string& content) {
  // One write(2), not a stream: the kernel parses each write separately and reports a bad
  // value through its return code, which a buffered stream would swallow.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  const ssize_t n = ::write(fd, content.data(), content.size());
  const int write_errno = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(content.size())) {
    return absl::InternalError(
        absl::StrCat("write '", content, "' to ", path, ": ", std::strerror(write_errno)));
  }
  return absl::OkStatus();
}

absl::Status CreateCpuCgroup(const std::string& path, double cpu_fraction) {
  const bool v2 = IsCgroupV2();
  if (v2 && cpu_fraction > 0) {
    // v2 offers cpu.max in a cgroup only if the root and every ancestor delegate the cpu
    // controller to their children; "+cpu" where it is already enabled is a no-op.
    const std::filesystem::path root = CpuCgroupRoot();
    std::vector<std::filesystem::path> levels = {root};
    for (const auto& part : std::filesystem::path(path).parent_path().lexically_relative(root)) {
      if (part != ".") levels.push_back(levels.back() / part);
    }
    for (const std::filesystem::path& level : levels) {
      if (absl::Status s = WriteKnob(level.string() + "/cgroup.subtree_control", "+cpu"); !s.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot enable the cpu controller for ", path, " (", s.message(),
                         "); on cgroup v2 a parent cgroup must have no processes of its own"));
      }
    }
  }
  if (::mkdir(path.c_str(), 0755) != 0) {
    return absl::InternalError(absl::StrCat("mkdir ", path, ": ", std::strerror(errno)));
  }
  if (cpu_fraction <= 0) return absl::OkStatus();
  // The kernel refuses quotas below 1 ms.
  const int64_t quota = std::max<int64_t>(1000, std::llround(cpu_fraction * kPeriodMicros));
  if (v2) return WriteKnob(path + "/cpu.max", absl::StrCat(quota, " ", kPeriodMicros));
  if (absl::Status s = WriteKnob(path + "/cpu.cfs_period_us", absl::StrCat(kPeriodMicros));
      !s.ok()) {
    return s;
  }
  return WriteKnob(path + "/cpu.cfs_quota_us", absl::StrCat(quota));
}

std::vector<pid_t> CgroupProcesses(const std::string& path) {
  std::vector<pid_t> pids;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return pids;
  for (const std::string& dir : DepthFirst(path)) {
    std::ifstream procs(dir + "/cgroup.procs");
    std::string line;
    while (std::getline(procs, line)) {
      pid_t pid = 0;
      if (absl::SimpleAtoi(line, &pid) && pid > 0) pids.push_back(pid);
    }
  }
  return pids;
}

absl::Status RemoveCgroupTree(const std::string& path, absl::Time deadline) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return absl::OkStatus();
  for (const std::string& dir : DepthFirst(path)) {
    while (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
      const int rmdir_errno = errno;
      if (rmdir_errno != EBUSY || absl::Now() >= deadline) {
        return absl::InternalError(absl::StrCat("rmdir ", dir, ": ", std::strerror(rmdir_errno)));
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }
  return absl::OkStatus();
}

}  // namespace cosched::testing
