// File: common/proc_stat.h
// The fields cosched reads from one process's /proc/<pid>/stat (proc(5)): CPU time, start
// time and memory, in seconds and bytes.
#pragma once

#include <optional>
#include <string>

namespace cosched {

struct ProcStat {
  double cpu_seconds = 0;  // user + system, every thread
  double start_after_boot_seconds = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
};

// `path` is /proc/self/stat or /proc/<pid>/stat; nullopt when the process is gone or the line
// is not what proc(5) says.
std::optional<ProcStat> ReadProcStat(const std::string& path);

}  // namespace cosched
