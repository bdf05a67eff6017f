// File: scheduler/store/posix_io.h
// The few POSIX file operations the file store needs, returning absl::Status with the path
// and errno text, plus the durability steps (fsync of files and of directories) that the
// store's crash guarantees rest on.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace cosched::scheduler {

using ::cosched::UniqueFd;  // common/unique_fd.h

// An error for the current errno: "<what> <path>: <strerror>", with errno's status code.
absl::Status ErrnoError(absl::string_view what, absl::string_view path);

absl::StatusOr<UniqueFd> OpenFile(const std::string& path, int flags, int mode = 0644);
// Writes all of `data` at `offset` (retries short writes).
absl::Status WriteAllAt(int fd, absl::string_view data, uint64_t offset, const std::string& path);
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);
// Makes the names in `directory` durable (new, renamed or removed files).
absl::Status FsyncDirectory(const std::string& directory);
// Writes `contents` to `directory`/`name` so that a crash leaves either no file (or the old
// one) or the whole new one: temporary file, fsync, rename, fsync of the directory.
absl::Status WriteFileAtomically(const std::string& directory, const std::string& name,
                                 absl::string_view contents);
// Cuts `path` to `size` bytes and fsyncs it.
absl::Status TruncateFile(const std::string& path, uint64_t size);
// Removes `path`; a file that is already gone is fine.
absl::Status RemoveFile(const std::string& path);

// The suffix of a file that WriteFileAtomically was writing when the process died.
inline constexpr absl::string_view kTemporarySuffix = ".tmp";

}  // namespace cosched::scheduler
