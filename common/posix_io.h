// File: common/posix_io.h
// The few POSIX file operations cosched needs, returning absl::Status with the path and
// errno text, plus the durability steps (fsync of files and of directories) that the
// scheduler's state store rests on and that certificate files are replaced with.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace cosched {

// An error for the current errno: "<what> <path>: <strerror>", with errno's status code.
absl::Status ErrnoError(absl::string_view what, absl::string_view path);

absl::StatusOr<UniqueFd> OpenFile(const std::string& path, int flags, int mode = 0644);
// Writes all of `data` at `offset` (retries short writes).
absl::Status WriteAllAt(int fd, absl::string_view data, uint64_t offset, const std::string& path);
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);
// Makes the names in `directory` durable (new, renamed or removed files).
absl::Status FsyncDirectory(const std::string& directory);
// Replaces `path` with `contents`, created with `mode`, so that a crash, or a reader at any
// moment, sees either the old file (or none) or the whole new one: temporary file
// (<path>.tmp), fsync, rename, fsync of the directory.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 mode_t mode = 0644);
// Cuts `path` to `size` bytes and fsyncs it.
absl::Status TruncateFile(const std::string& path, uint64_t size);
// Removes `path`; a file that is already gone is fine.
absl::Status RemoveFile(const std::string& path);

bool FileExists(const std::string& path);

// What stat(2) says of a file, enough to see it change (a rewrite, an atomic replacement).
struct FileVersion {
  bool exists = false;
  int64_t modified_ns = 0;
  int64_t size = 0;
  bool operator==(const FileVersion&) const = default;
};
FileVersion StatFile(const std::string& path);

// The suffix of a file that WriteFileAtomically was writing when the process died.
inline constexpr absl::string_view kTemporarySuffix = ".tmp";

}  // namespace cosched
