// File: collectives/file_store.cc
#include "collectives/file_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace cosched::collectives {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileStore>> FileStore::Open(const std::string& directory) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec || !std::filesystem::is_directory(directory)) {
    return absl::InvalidArgumentError(
        absl::StrCat("file store directory '", directory, "' cannot be created: ", ec.message()));
  }
  return std::unique_ptr<FileStore>(new FileStore(directory));
}

std::string FileStore::PathFor(absl::string_view key) const {
  std::string name;
  for (char c : key) {
    if (c == '/') {
      name += "%2F";
    } else if (c == '%') {
      name += "%25";
    } else {
      name += c;
    }
  }
  return absl::StrCat(directory_, "/", name);
}

absl::Status FileStore::Set(absl::string_view key, const std::vector<char>& value) {
  const std::string path = PathFor(key);
  const std::string temp = absl::StrCat(path, ".tmp.", ::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", temp);
  size_t written = 0;
  while (written < value.size()) {
    const ssize_t n = ::write(fd, value.data() + written, value.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const absl::Status status = ErrnoError("cannot write", temp);
      ::close(fd);
      ::unlink(temp.c_str());
      return status;
    }
    written += static_cast<size_t>(n);
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError("cannot rename to", path);
  return absl::OkStatus();
}

absl::Status FileStore::Wait(const std::vector<std::string>& keys, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  // Other processes write the files, so there is nothing to wait on but the directory;
  // poll with a backoff that starts fine (rendezvous is on the start-up path) and caps low.
  absl::Duration backoff = absl::Microseconds(200);
  while (true) {
    std::vector<absl::string_view> missing;
    for (const std::string& key : keys) {
      if (::access(PathFor(key).c_str(), F_OK) != 0) missing.push_back(key);
    }
    if (missing.empty()) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("rendezvous keys still missing in ", directory_, " after ",
                       absl::FormatDuration(timeout), ": ", absl::StrJoin(missing, ", ")));
    }
    absl::SleepFor(std::min(backoff, deadline - absl::Now()));
    backoff = std::min(backoff * 2, absl::Milliseconds(20));
  }
}

absl::StatusOr<std::vector<char>> FileStore::Get(absl::string_view key, absl::Duration timeout) {
  RETURN_IF_ERROR(Wait({std::string(key)}, timeout));
  const std::string path = PathFor(key);
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot read", path);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace cosched::collectives
