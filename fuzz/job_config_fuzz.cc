// File: fuzz/job_config_fuzz.cc
// A job's YAML as a client submits it (SubmitJob) and a worker parses it: any bytes give a
// JobConfig or an error, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/job_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  (void)cosched::ParseJobConfigText(yaml, "fuzzed job");
  return 0;
}
