// File: collectives/direct_stream.h
// What the direct algorithms (direct_allreduce.h, direct_ring.h) put on a DirectLink: one
// byte stream per direction and operation, made of pieces of memory in the order they cross
// the wire, behind an operation header that both sides check.
//
// The header is the magic "coschedA", the operation's sequence number and its size in bytes
// (8 bytes each, little-endian). A peer out of step (another operation, another size) then
// fails the operation with an error naming both, never a wrong sum.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/types/span.h"

namespace cosched::collectives {

// The byte ends an operation's stream where one is sent ("done": all has arrived).
inline constexpr char kDirectDone = 'D';

class OperationHeader {
 public:
  static constexpr size_t kSize = 24;

  OperationHeader() = default;  // all zeros: a buffer to receive the peer's header into
  OperationHeader(uint64_t sequence, uint64_t bytes);

  // OK when `received` (from `peer`) announces the same operation as this header; DATA_LOSS
  // naming both otherwise.
  absl::Status Check(const OperationHeader& received, const std::string& peer) const;

  char* data() { return bytes_.data(); }

 private:
  uint64_t Field(size_t offset) const;

  std::array<char, kSize> bytes_{};
};

// One direction of an operation: byte ranges in the order they cross the wire, addressed by
// their offset in the stream. (Inline vectors: a stream has a few parts, and At runs at every
// step of an operation.)
class Stream {
 public:
  using Pieces = absl::InlinedVector<absl::Span<char>, 4>;

  // Appends `size` bytes at `data`; an empty part adds nothing.
  void Add(char* data, size_t size);
  size_t total() const { return total_; }
  // The bytes from stream offset `at`, at most `limit` of them, as the pieces of memory they
  // are in.
  Pieces At(size_t at, size_t limit) const;

 private:
  absl::InlinedVector<absl::Span<char>, 4> parts_;
  size_t total_ = 0;
};

}  // namespace cosched::collectives
