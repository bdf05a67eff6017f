// File: worker/edge/compression.h
// How the edge tier's tensors travel over slow links: pseudo-gradients from a vehicle to its
// job's aggregator, and the global parameters back. A tensor is cut into chunks of
// kCompressionChunk values; each chunk carries its largest magnitude `m` (a float) and each
// value v as q = round(v / m * L), with L = 127 for int8 and fp16's own rounding for fp16.
// A value comes back as m * (q / L): the chunk's largest value comes back as exactly m (q / L
// is exactly 1), so a tensor of zeros, or of one constant, survives exactly, and per-chunk
// scaling keeps fp16 from overflowing or flushing small gradients to zero.
//
// int8 moves 1 byte per value (plus 4 per chunk), fp16 2, none 4. The round trip errs by at
// most m / 254 per value for int8 and m * 2^-11 for fp16 (half the spacing of their grids).
// A chunk holding NaN or an infinity comes back as NaN throughout, so the aggregator's check
// of contributions (outer_round.h) sees it; the codec never guesses a value.
#pragma once

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace cosched::worker::edge {

enum class Compression { kNone, kFp16, kInt8 };

const char* CompressionName(Compression compression);  // "none", "fp16", "int8"
// INVALID_ARGUMENT naming the choices for anything else.
absl::StatusOr<Compression> ParseCompression(absl::string_view name);

inline constexpr size_t kCompressionChunk = 512;

// The encoded size of `count` values: what a link carries for them.
size_t CompressedBytes(Compression compression, size_t count);

// `values` encoded (the bytes alone: the reader knows the compression and the count).
std::string Compress(Compression compression, absl::Span<const float> values);

// Decodes `bytes` into `out` (out.size() values). DATA_LOSS, naming `source`, when the
// bytes are not exactly CompressedBytes(compression, out.size()) long.
absl::Status Decompress(Compression compression, absl::string_view bytes, absl::Span<float> out,
                        absl::string_view source);

}  // namespace cosched::worker::edge
