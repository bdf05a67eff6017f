// File: common/cpu_affinity.cc
#include "common/cpu_affinity.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace cosched {
namespace {

absl::StatusOr<int> ParseCpu(absl::string_view text, absl::string_view list) {
  int cpu = -1;
  if (!absl::SimpleAtoi(text, &cpu) || cpu < 0 || cpu >= CPU_SETSIZE) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CPU list '", list, "': '", text, "' is not a CPU number in [0, ", CPU_SETSIZE, ")"));
  }
  return cpu;
}

}  // namespace

absl::StatusOr<std::vector<int>> ParseCpuList(absl::string_view list) {
  std::vector<int> cpus;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    const std::vector<absl::string_view> range = absl::StrSplit(part, absl::MaxSplits('-', 1));
    absl::StatusOr<int> first = ParseCpu(range[0], list);
    if (!first.ok()) return first.status();
    int last = *first;
    if (range.size() == 2) {
      absl::StatusOr<int> end = ParseCpu(range[1], list);
      if (!end.ok()) return end.status();
      if (*end < *first) {
        return absl::InvalidArgumentError(
            absl::StrCat("CPU list '", list, "': range '", part, "' runs backwards"));
      }
      last = *end;
    }
    for (int cpu = *first; cpu <= last; ++cpu) cpus.push_back(cpu);
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

absl::Status BindToCpus(const std::vector<int>& cpus) {
  if (cpus.empty()) return absl::InvalidArgumentError("no CPUs to bind to");
  const std::vector<int> allowed = AllowedCpus();
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) {
    if (!std::binary_search(allowed.begin(), allowed.end(), cpu)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "CPU ", cpu, " is not one this process may use (", absl::StrJoin(allowed, ","), ")"));
    }
    CPU_SET(cpu, &set);
  }
  if (::sched_setaffinity(0, sizeof(set), &set) != 0) {
    return absl::InternalError(
        absl::StrCat("sched_setaffinity(", absl::StrJoin(cpus, ","), "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

}  // namespace cosched
