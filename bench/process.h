// File: bench/process.h
// The benchmark's child processes (rank processes, mpirun): running a group of them on
// common/subprocess.h, finding the programs to start, and the temporary directory they share
// with the launcher. The caller owns its children:
// RunChildren returns only after every child it started has exited and been reaped, so
// nothing outlives it, whether the children succeed, fail or hang.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cosched::bench {

struct ChildSpec {
  std::string name;               // for messages: "gloo rank 1", "mpirun for mpi-shm"
  std::vector<std::string> argv;  // argv[0] is the program's path
};

// Starts every child (stdout redirected to our stderr, so stdout stays clean for results;
// each child gets SIGTERM if this process dies) and waits for all of them. As soon as one exits
// with a non-zero status or dies of a signal, or when `timeout` passes, the others are stopped
// (SIGTERM, then SIGKILL after a grace period) and an error naming the offending child is
// returned.
absl::Status RunChildren(const std::vector<ChildSpec>& children, absl::Duration timeout);

// The absolute path of `program` on $PATH, or NotFound.
absl::StatusOr<std::string> FindOnPath(absl::string_view program);

// A path that executes this very binary (/proc/<pid>/exe), so that it can start copies of
// itself that match it even if the file on disk is rebuilt meanwhile.
absl::StatusOr<std::string> SelfExecutable();

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempDir {
 public:
  static absl::StatusOr<TempDir> Create(absl::string_view prefix);
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace cosched::bench
