// File: common/host_memory.cc
#include "common/host_memory.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace cosched {
namespace {

// The path of this process's cgroup for `controller` ("" for the v2 unified hierarchy),
// from /proc/self/cgroup lines "ID:CONTROLLERS:PATH".
std::string CgroupPath(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    const size_t first = line.find(':');
    const size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    std::stringstream controllers(line.substr(first + 1, second - first - 1));
    std::string name;
    bool match = controller.empty() && second == first + 1;
    while (!match && std::getline(controllers, name, ',')) match = name == controller;
    if (match) return line.substr(second + 1);
  }
  return "";
}

// A limit file's number; 0 when there is none ("max", a missing file, or a huge value that
// stands for "unlimited").
int64_t ReadLimit(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  int64_t limit = 0;
  if (!(in >> text) || !absl::SimpleAtoi(text, &limit) || limit <= 0) return 0;
  return limit >= (int64_t{1} << 60) ? 0 : limit;
}

}  // namespace

absl::StatusOr<int64_t> UsableMemoryBytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  int64_t total = 0;
  while (meminfo >> key >> kib) {
    std::getline(meminfo, unit);
    if (key == "MemTotal:") {
      total = kib * 1024;
      break;
    }
  }
  if (total <= 0) return absl::UnavailableError("cannot read MemTotal from /proc/meminfo");
  const std::string v2 = CgroupPath("");
  const std::string v1 = CgroupPath("memory");
  for (const int64_t limit :
       {v2.empty() ? 0 : ReadLimit(absl::StrCat("/sys/fs/cgroup", v2, "/memory.max")),
        v2.empty() ? 0 : ReadLimit(absl::StrCat("/sys/fs/cgroup/unified", v2, "/memory.max")),
        v1.empty()
            ? 0
            : ReadLimit(absl::StrCat("/sys/fs/cgroup/memory", v1, "/memory.limit_in_bytes"))}) {
    if (limit > 0) total = std::min(total, limit);
  }
  return total;
}

}  // namespace cosched
