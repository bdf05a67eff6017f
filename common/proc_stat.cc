// File: common/proc_stat.cc
#include "common/proc_stat.h"

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace cosched {
namespace {

// Fields counted from 1 as proc(5) does.
constexpr int kUtime = 14;
constexpr int kStime = 15;
constexpr int kStartTime = 22;
constexpr int kVsize = 23;
constexpr int kRss = 24;

}  // namespace

std::optional<ProcStat> ReadProcStat(const std::string& path) {
  std::ifstream file(path);
  const std::string line((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // The command name (field 2) may hold spaces and parentheses: the fields start after its
  // last ')'. Element 0 is then field 3.
  const size_t end_of_name = line.rfind(')');
  if (end_of_name == std::string::npos) return std::nullopt;
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(line).substr(end_of_name + 1), ' ', absl::SkipWhitespace());
  double values[kRss + 1] = {};
  for (const int number : {kUtime, kStime, kStartTime, kVsize, kRss}) {
    const size_t index = static_cast<size_t>(number - 3);
    if (index >= fields.size() || !absl::SimpleAtod(fields[index], &values[number])) {
      return std::nullopt;
    }
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  if (!(ticks > 0)) return std::nullopt;
  ProcStat stat;
  stat.cpu_seconds = (values[kUtime] + values[kStime]) / ticks;
  stat.start_after_boot_seconds = values[kStartTime] / ticks;
  stat.virtual_bytes = values[kVsize];
  stat.resident_bytes = values[kRss] * static_cast<double>(::sysconf(_SC_PAGESIZE));
  return stat;
}

}  // namespace cosched
