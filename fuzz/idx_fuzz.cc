// File: fuzz/idx_fuzz.cc
// The IDX reader (the data set's files, gzip or plain): the input is split at its first byte
// into an images file and a labels file, written to a directory of this process's own, and
// read as a pair. A bad file is an error naming it; what loads is consistent.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "worker/data/idx_reader.h"

namespace {

std::string WorkDir() {
  static const std::string dir = [] {
    std::string pattern = "/tmp/cosched-idx-fuzz-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    return pattern;
  }();
  return dir;
}

void Write(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte says where the images file ends (as a fraction of the rest).
  const size_t rest = size - 1;
  const size_t split = rest * data[0] / 255;
  const std::string images = WorkDir() + "/images";
  const std::string labels = WorkDir() + "/labels";
  Write(images, data + 1, split);
  Write(labels, data + 1 + split, rest - split);
  absl::StatusOr<cosched::worker::LabeledImages> set = cosched::worker::ReadIdxPair(images, labels);
  if (set.ok()) {
    const size_t pixels = set->size() * static_cast<size_t>(set->pixels_per_image());
    if (set->pixels.size() != pixels) std::abort();
    for (uint8_t label : set->labels) {
      if (label >= cosched::worker::kIdxMaxClasses) std::abort();
    }
  }
  return 0;
}
