// File: collectives/file_liveness.h
// FileLiveness: whether the other processes of a job that share a FileStore (one machine) are
// still running, known at once instead of after a timeout. Each process holds an exclusive
// flock(2) on a file of its own for as long as it lives; the kernel lets go of it the moment
// the process ends, however it ends (kill -9 included), so a peer that can take the lock knows
// its holder is gone. A process that is alive but stuck still holds its lock: only a timeout
// tells about that one.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collectives/file_store.h"

namespace cosched::collectives {

class FileLiveness {
 public:
  // Lock files live next to `store`'s keys, under job/<job_id>/process/<n>.
  FileLiveness(const FileStore* store, std::string job_id)
      : store_(store), job_id_(std::move(job_id)) {}
  ~FileLiveness();  // lets go of every process announced here
  FileLiveness(const FileLiveness&) = delete;
  FileLiveness& operator=(const FileLiveness&) = delete;

  // Takes process `process`'s lock until this object is destroyed or the process ends. Fails,
  // naming the file, when another process holds it (two processes claiming one identity).
  absl::Status Announce(int process);
  // True when nobody holds `process`'s lock: it ended, or never announced itself.
  absl::StatusOr<bool> Ended(int process) const;

 private:
  std::string LockPath(int process) const;

  const FileStore* const store_;
  const std::string job_id_;
  std::vector<int> held_fds_;
};

}  // namespace cosched::collectives
