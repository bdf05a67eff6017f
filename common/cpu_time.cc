// File: common/cpu_time.cc
#include "common/cpu_time.h"

#include <ctime>

namespace cosched {
namespace {

double Read(clockid_t clock) {
  timespec t{};
  ::clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

double ProcessCpuSeconds() { return Read(CLOCK_PROCESS_CPUTIME_ID); }

double ThisThreadCpuSeconds() { return Read(CLOCK_THREAD_CPUTIME_ID); }

}  // namespace cosched
