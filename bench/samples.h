// File: bench/samples.h
// How rank processes hand their timings to the launcher: one text file per rank and launch,
// one line per sample, "<impl> <size_bytes> <seconds>". The launcher reads the files after
// the ranks exit successfully, so no pipes have to be drained while they run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cosched::bench {

struct Sample {
  std::string impl;
  uint64_t size_bytes = 0;
  double seconds = 0;  // mean time of one allreduce on this rank
};

absl::Status WriteSamples(const std::string& path, const std::vector<Sample>& samples);
absl::StatusOr<std::vector<Sample>> ReadSamples(const std::string& path);

// The file rank `rank` of launch `launch_name` writes under `dir`.
std::string SamplePath(const std::string& dir, const std::string& launch_name, int rank);

}  // namespace cosched::bench
