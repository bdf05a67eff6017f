// File: collectives/direct_stream.h
// What the direct algorithms (direct_allreduce.h, direct_ring.h) put on a DirectLink, and
// the loop that drives it: one byte stream per direction and operation, made of pieces of
// memory in the order they cross the wire, behind an operation header that both sides check.
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
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "collectives/direct_link.h"

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

// What DriveStreams asks of an operation at every turn: how far each stream may go by now,
// and what to do with what has arrived.
class StreamOperation {
 public:
  virtual ~StreamOperation() = default;
  // The send stream's offset up to which bytes may go out now.
  virtual size_t SendLimit() const = 0;
  // The receive stream's offset up to which bytes may be taken now.
  virtual size_t ReceiveLimit() const = 0;
  // Acts on what has arrived (checks the header, sums); true when that moved anything.
  virtual absl::StatusOr<bool> Progress() = 0;
};

// Runs an operation's two streams to the end: `send` out on `out` (progress in `sent`) and
// `receive` in from `in` (progress in `received`; `in` may be `out`, as between a pair),
// within the operation's limits, sleeping in poll only when nothing could move.
absl::Status DriveStreams(StreamOperation& operation, DirectLink& out, const Stream& send,
                          size_t& sent, DirectLink& in, const Stream& receive, size_t& received,
                          absl::Time deadline);

}  // namespace cosched::collectives
