// File: common/cpu_time.h
// CPU time consumed so far (user + system), for benchmarks that split a process's CPU
// between its jobs (training versus inference).
#pragma once

namespace cosched {

double ProcessCpuSeconds();     // every thread of this process
double ThisThreadCpuSeconds();  // the calling thread only

}  // namespace cosched
