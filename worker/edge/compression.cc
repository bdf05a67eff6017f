// File: worker/edge/compression.cc
#include "worker/edge/compression.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace cosched::worker::edge {
namespace {

constexpr float kInt8Levels = 127.0f;

size_t Chunks(size_t count) { return (count + kCompressionChunk - 1) / kCompressionChunk; }

size_t BytesPerValue(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return sizeof(float);
    case Compression::kFp16:
      return sizeof(uint16_t);
    case Compression::kInt8:
      return sizeof(int8_t);
  }
  return sizeof(float);
}

// IEEE binary16 from a float in [-1, 1], rounded to nearest even. Inputs here are a value
// over its chunk's largest magnitude, so overflow cannot happen; values below fp16's normal
// range become subnormals or zero, as a hardware conversion would.
uint16_t HalfFromUnit(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const int exponent = static_cast<int>((bits >> 23) & 0xFFu) - 127;
  uint32_t mantissa = bits & 0x7FFFFFu;
  if (exponent < -25) return static_cast<uint16_t>(sign);  // rounds to zero
  uint32_t half = 0;  // the exponent bits; a subnormal half has none
  int shift = 13;     // float has 23 mantissa bits, half 10
  if (exponent < -14) {
    // A subnormal half: the implicit leading 1 joins the mantissa, shifted further.
    mantissa |= 0x800000u;
    shift = 13 + (-14 - exponent);
  } else {
    half = static_cast<uint32_t>(exponent + 15) << 10;
  }
  const uint32_t kept = mantissa >> shift;
  const uint32_t rest = mantissa & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  uint32_t rounded = kept + half;
  if (rest > halfway || (rest == halfway && (kept & 1u))) ++rounded;  // carries into exponent
  return static_cast<uint16_t>(sign | rounded);
}

float UnitFromHalf(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const int exponent = (half >> 10) & 0x1F;
  const uint32_t mantissa = half & 0x3FFu;
  float magnitude = 0;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);  // subnormal (or zero)
  } else {
    magnitude = std::ldexp(static_cast<float>(mantissa | 0x400u), exponent - 25);
  }
  uint32_t bits = 0;
  std::memcpy(&bits, &magnitude, sizeof(bits));
  bits |= sign;
  float value = 0;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// The chunk's largest magnitude; NaN if any value is NaN, infinity if any is infinite.
float LargestMagnitude(absl::Span<const float> chunk) {
  float largest = 0;
  for (float v : chunk) {
    if (std::isnan(v)) return std::numeric_limits<float>::quiet_NaN();
    largest = std::max(largest, std::fabs(v));
  }
  return largest;
}

}  // namespace

const char* CompressionName(Compression compression) {
  switch (compression) {
    case Compression::kNone:
      return "none";
    case Compression::kFp16:
      return "fp16";
    case Compression::kInt8:
      return "int8";
  }
  return "none";
}

absl::StatusOr<Compression> ParseCompression(absl::string_view name) {
  if (name == "none") return Compression::kNone;
  if (name == "fp16") return Compression::kFp16;
  if (name == "int8") return Compression::kInt8;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown compression '", name, "' (none, fp16 or int8)"));
}

size_t CompressedBytes(Compression compression, size_t count) {
  if (compression == Compression::kNone) return count * sizeof(float);
  return Chunks(count) * sizeof(float) + count * BytesPerValue(compression);
}

std::string Compress(Compression compression, absl::Span<const float> values) {
  std::string out(CompressedBytes(compression, values.size()), '\0');
  if (compression == Compression::kNone) {
    if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
    return out;
  }
  // Layout: every chunk's scale first, then every value's code.
  char* scales = out.data();
  char* codes = out.data() + Chunks(values.size()) * sizeof(float);
  for (size_t c = 0; c * kCompressionChunk < values.size(); ++c) {
    const absl::Span<const float> chunk = values.subspan(c * kCompressionChunk, kCompressionChunk);
    const float scale = LargestMagnitude(chunk);
    std::memcpy(scales + c * sizeof(float), &scale, sizeof(float));
    // Zero, NaN or infinite scale: codes stay 0 (m * 0 is 0 for zero, NaN otherwise).
    const bool usable = std::isfinite(scale) && scale > 0;
    for (size_t i = 0; i < chunk.size(); ++i) {
      const float unit = usable ? chunk[i] / scale : 0.0f;
      const size_t at = c * kCompressionChunk + i;
      if (compression == Compression::kInt8) {
        const auto q = static_cast<int8_t>(std::lround(unit * kInt8Levels));
        std::memcpy(codes + at, &q, 1);
      } else {
        const uint16_t half = HalfFromUnit(unit);
        std::memcpy(codes + at * sizeof(uint16_t), &half, sizeof(half));
      }
    }
  }
  return out;
}

absl::Status Decompress(Compression compression, absl::string_view bytes, absl::Span<float> out,
                        absl::string_view source) {
  const size_t expected = CompressedBytes(compression, out.size());
  if (bytes.size() != expected) {
    return absl::DataLossError(absl::StrCat(source, ": ", bytes.size(), " bytes of ",
                                            CompressionName(compression), " for ", out.size(),
                                            " values, which take ", expected));
  }
  if (compression == Compression::kNone) {
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), bytes.size());
    return absl::OkStatus();
  }
  const char* scales = bytes.data();
  const char* codes = bytes.data() + Chunks(out.size()) * sizeof(float);
  for (size_t c = 0; c * kCompressionChunk < out.size(); ++c) {
    float scale = 0;
    std::memcpy(&scale, scales + c * sizeof(float), sizeof(float));
    const size_t end = std::min(out.size(), (c + 1) * kCompressionChunk);
    for (size_t at = c * kCompressionChunk; at < end; ++at) {
      float unit = 0;
      if (compression == Compression::kInt8) {
        int8_t q = 0;
        std::memcpy(&q, codes + at, 1);
        unit = static_cast<float>(q) / kInt8Levels;
      } else {
        uint16_t half = 0;
        std::memcpy(&half, codes + at * sizeof(uint16_t), sizeof(half));
        unit = UnitFromHalf(half);
      }
      // A non-finite scale poisons the chunk whatever the code: NaN, for the check to catch.
      out[at] = std::isfinite(scale) ? scale * unit : std::numeric_limits<float>::quiet_NaN();
    }
  }
  return absl::OkStatus();
}

}  // namespace cosched::worker::edge
