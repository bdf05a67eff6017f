// File: scheduler/store/wal_segment_writer.cc
#include "scheduler/store/wal_segment_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "scheduler/store/store_directory.h"
#include "scheduler/store/wal_format.h"

namespace cosched::scheduler {

WalSegmentWriter::WalSegmentWriter(std::string path, UniqueFd fd, uint64_t first_sequence,
                                   uint64_t size, uint64_t next_sequence)
    : path_(std::move(path)),
      fd_(std::move(fd)),
      first_sequence_(first_sequence),
      size_(size),
      next_sequence_(next_sequence) {}

absl::StatusOr<std::unique_ptr<WalSegmentWriter>> WalSegmentWriter::Create(
    const std::string& directory, uint64_t first_sequence) {
  const std::string name = WalSegmentName(first_sequence);
  RETURN_IF_ERROR(WriteFileAtomically(absl::StrCat(directory, "/", name),
                                      EncodeWalSegmentHeader(first_sequence)));
  return Continue(directory, first_sequence, kWalSegmentHeaderBytes, first_sequence);
}

absl::StatusOr<std::unique_ptr<WalSegmentWriter>> WalSegmentWriter::Continue(
    const std::string& directory, uint64_t first_sequence, uint64_t size, uint64_t next_sequence) {
  const std::string path = absl::StrCat(directory, "/", WalSegmentName(first_sequence));
  ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_WRONLY));
  return std::unique_ptr<WalSegmentWriter>(
      new WalSegmentWriter(path, std::move(fd), first_sequence, size, next_sequence));
}

absl::Status WalSegmentWriter::Append(absl::string_view payload) {
  const std::string frame = EncodeWalRecord(next_sequence_, payload);
  RETURN_IF_ERROR(WriteAllAt(fd_.get(), frame, size_, path_));
  // fdatasync also flushes the file size, which is all the metadata an append changes.
  if (::fdatasync(fd_.get()) != 0) return ErrnoError("cannot fdatasync", path_);
  size_ += frame.size();
  ++next_sequence_;
  return absl::OkStatus();
}

}  // namespace cosched::scheduler
