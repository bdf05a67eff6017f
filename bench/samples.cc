// File: bench/samples.cc
#include "bench/samples.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cosched::bench {

absl::Status WriteSamples(const std::string& path, const std::vector<Sample>& samples) {
  std::ofstream out(path, std::ios::trunc);
  for (const Sample& s : samples) {
    out << s.impl << ' ' << s.size_bytes << ' ' << absl::StrFormat("%.9e", s.seconds) << '\n';
  }
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write samples to ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Sample>> ReadSamples(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no samples file ", path));
  std::vector<Sample> samples;
  std::string line;
  for (int line_number = 1; std::getline(in, line); ++line_number) {
    std::istringstream fields(line);
    Sample s;
    if (!(fields >> s.impl >> s.size_bytes >> s.seconds) || s.seconds <= 0) {
      return absl::DataLossError(
          absl::StrCat(path, ":", line_number, ": malformed sample '", line, "'"));
    }
    samples.push_back(std::move(s));
  }
  return samples;
}

std::string SamplePath(const std::string& dir, const std::string& launch_name, int rank) {
  return absl::StrCat(dir, "/", launch_name, "-rank", rank, ".samples");
}

}  // namespace cosched::bench
