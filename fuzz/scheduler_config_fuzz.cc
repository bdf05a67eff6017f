// File: fuzz/scheduler_config_fuzz.cc
// cosched-scheduler's YAML (--config): any bytes give a SchedulerConfig or an error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.h"
#include "scheduler/scheduler_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cosched::ConfigNode> root = cosched::ConfigNode::LoadString(yaml, "fuzzed.yaml");
  if (root.ok()) (void)cosched::scheduler::ParseSchedulerConfig(*root);
  return 0;
}
