// File: collectives/file_liveness.cc
#include "collectives/file_liveness.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace cosched::collectives {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

FileLiveness::~FileLiveness() {
  for (const int fd : held_fds_) ::close(fd);
}

std::string FileLiveness::LockPath(int process) const {
  return absl::StrCat(store_->PathFor(absl::StrCat("job/", job_id_, "/process/", process)),
                      ".lock");
}

absl::Status FileLiveness::Announce(int process) {
  const std::string path = LockPath(process);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot open", path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const absl::Status status =
        errno == EWOULDBLOCK ? absl::AlreadyExistsError(absl::StrCat(
                                   "another process of job ", job_id_, " is process ", process,
                                   " (", path, " is locked): two processes were given one rank"))
                             : ErrnoError("cannot lock", path);
    ::close(fd);
    return status;
  }
  held_fds_.push_back(fd);
  return absl::OkStatus();
}

absl::StatusOr<bool> FileLiveness::Ended(int process) const {
  const std::string path = LockPath(process);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return true;  // never announced
    return ErrnoError("cannot open", path);
  }
  // A lock on a file description of our own conflicts with the holder's, even in the same
  // process; getting it means nobody holds it. Closing lets go of it again.
  const bool ended = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  const int error = errno;
  ::close(fd);
  if (!ended && error != EWOULDBLOCK) {
    errno = error;
    return ErrnoError("cannot test the lock of", path);
  }
  return ended;
}

}  // namespace cosched::collectives
