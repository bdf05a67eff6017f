// File: scheduler/store/encoding.h
// Little-endian integers and CRC-32 (zlib) for the store's file formats, so the bytes on
// disk do not depend on the machine that wrote them.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace cosched::scheduler {

void PutU32(std::string* out, uint32_t value);
void PutU64(std::string* out, uint64_t value);
// Read from the first 4 / 8 bytes of `bytes`; the caller checks the length.
uint32_t GetU32(absl::string_view bytes);
uint64_t GetU64(absl::string_view bytes);

// CRC-32 (zlib's polynomial) of `data`, continuing from `crc` (0 to start).
uint32_t Crc32(absl::string_view data, uint32_t crc = 0);

}  // namespace cosched::scheduler
