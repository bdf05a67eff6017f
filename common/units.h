// File: common/units.h
// Parsing and printing of byte sizes ("64KiB", "1MiB", "4096") and durations ("30s",
// "250ms"), shared by config files and command-line flags.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cosched {

// Accepts a non-negative integer with an optional unit: B, KiB, MiB, GiB (powers of 1024)
// or KB, MB, GB (powers of 1000). Case-sensitive, no spaces.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);
// "4KiB", "64MiB", "1000B": the largest binary unit that divides the size exactly.
std::string FormatByteSize(uint64_t bytes);
// absl's duration syntax ("1.5s", "300ms", "2m"); rejects negative and infinite values.
absl::StatusOr<absl::Duration> ParseDuration(absl::string_view text);

}  // namespace cosched
