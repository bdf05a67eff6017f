// File: common/subprocess.h
// Subprocess: start a program, read its stdout line by line with a deadline, signal it, and
// wait for it with a deadline. Launchers (cosched up, the demos, benchmarks) and the
// multi-process tests use it. The destructor kills and reaps a child that is still running,
// so no child outlives its owner.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cosched {

class Subprocess {
 public:
  struct Options {
    bool capture_stdout = true;  // otherwise the child inherits our stdout
    // Extra NAME=VALUE environment entries, on top of ours.
    std::vector<std::string> extra_env;
  };

  static absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(const std::vector<std::string>& argv,
                                                           const Options& options);
  static absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(const std::vector<std::string>& argv) {
    return Spawn(argv, Options());
  }
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

  // The next line of the child's stdout, without the newline. DeadlineExceeded if no whole
  // line arrives by `deadline`; OutOfRange once the child closed stdout.
  absl::StatusOr<std::string> ReadLine(absl::Time deadline);
  // Sends `signal` (e.g. SIGKILL) if the child has not been reaped yet.
  void Kill(int signal);
  // The exit code, or 128 + the signal number if a signal ended it. DeadlineExceeded if the
  // child is still running at `deadline`.
  absl::StatusOr<int> Wait(absl::Time deadline);

 private:
  Subprocess(pid_t pid, int stdout_fd, std::string name)
      : pid_(pid), stdout_fd_(stdout_fd), name_(std::move(name)) {}

  pid_t pid_;
  int stdout_fd_;  // -1 when not captured or closed
  std::string name_;
  std::string buffered_;  // read but not yet returned
  bool reaped_ = false;
  int exit_code_ = 0;
};

}  // namespace cosched
