// File: fuzz/wal_fuzz.cc
// A write-ahead log segment as the disk hands it back: the scan stops at the first frame it
// cannot use and says why; every frame it returns lies inside the segment.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "scheduler/store/wal_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view segment(reinterpret_cast<const char*>(data), size);
  (void)cosched::scheduler::ParseWalSegmentHeader(segment, "fuzzed segment");
  for (size_t offset = 0; offset < size && offset < 64; ++offset) {
    absl::StatusOr<cosched::scheduler::WalFrame> frame =
        cosched::scheduler::ReadWalFrame(segment, offset);
    if (frame.ok() && (frame->end_offset > size ||
                       frame->payload.data() + frame->payload.size() > segment.data() + size)) {
      std::abort();  // a frame past the end of what was read
    }
    (void)cosched::scheduler::FindIntactWalFrameAfter(segment, offset, 1);
  }
  absl::StatusOr<cosched::scheduler::WalSegmentScan> scan =
      cosched::scheduler::ScanWalSegment(segment, "fuzzed segment", /*keep_after=*/0);
  if (scan.ok() && scan->intact_bytes > size) std::abort();
  return 0;
}
