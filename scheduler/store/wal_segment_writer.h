// File: scheduler/store/wal_segment_writer.h
// WalSegmentWriter: appends framed records to one WAL segment file, each made durable
// (fdatasync) before Append returns. New segments appear atomically with their header, so a
// segment file under its final name always has a complete header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/posix_io.h"

namespace cosched::scheduler {

class WalSegmentWriter {
 public:
  // Creates segment WalSegmentName(first_sequence) in `directory` and fsyncs the directory.
  static absl::StatusOr<std::unique_ptr<WalSegmentWriter>> Create(const std::string& directory,
                                                                  uint64_t first_sequence);
  // Continues an existing segment whose intact contents are `size` bytes, the last of them
  // the record before `next_sequence`.
  static absl::StatusOr<std::unique_ptr<WalSegmentWriter>> Continue(const std::string& directory,
                                                                    uint64_t first_sequence,
                                                                    uint64_t size,
                                                                    uint64_t next_sequence);

  // Writes record `next_sequence()` and fdatasyncs. After an error the file's tail is
  // unknown (a partial frame that recovery will cut); do not append again.
  absl::Status Append(absl::string_view payload);

  uint64_t first_sequence() const { return first_sequence_; }
  uint64_t next_sequence() const { return next_sequence_; }
  uint64_t size() const { return size_; }
  bool has_records() const { return next_sequence_ > first_sequence_; }

 private:
  WalSegmentWriter(std::string path, UniqueFd fd, uint64_t first_sequence, uint64_t size,
                   uint64_t next_sequence);

  const std::string path_;
  const UniqueFd fd_;
  const uint64_t first_sequence_;
  uint64_t size_;
  uint64_t next_sequence_;
};

}  // namespace cosched::scheduler
