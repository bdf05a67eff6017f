// File: scheduler/store/encoding.cc
#include "scheduler/store/encoding.h"

#include <zlib.h>

namespace cosched::scheduler {
namespace {

template <typename T>
void PutLittleEndian(std::string* out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

template <typename T>
T GetLittleEndian(absl::string_view bytes) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  return value;
}

}  // namespace

void PutU32(std::string* out, uint32_t value) { PutLittleEndian(out, value); }
void PutU64(std::string* out, uint64_t value) { PutLittleEndian(out, value); }
uint32_t GetU32(absl::string_view bytes) { return GetLittleEndian<uint32_t>(bytes); }
uint64_t GetU64(absl::string_view bytes) { return GetLittleEndian<uint64_t>(bytes); }

uint32_t Crc32(absl::string_view data, uint32_t crc) {
  // zlib answers a null buffer with the initial value, not `crc`; an empty view may be null.
  if (data.empty()) return crc;
  // crc32_z takes a size_t length, so multi-GiB inputs need no chunking (zlib >= 1.2.9).
  return static_cast<uint32_t>(
      crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}

}  // namespace cosched::scheduler
