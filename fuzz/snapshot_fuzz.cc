// File: fuzz/snapshot_fuzz.cc
// A snapshot file as the disk hands it back: it decodes whole or is refused.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "scheduler/store/snapshot_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<cosched::scheduler::DecodedSnapshot> snapshot =
      cosched::scheduler::DecodeSnapshot(bytes, "fuzzed snapshot");
  if (snapshot.ok() && snapshot->state.size() > size) std::abort();  // more than was read
  return 0;
}
