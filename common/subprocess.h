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
    // With capture_stdout: the child's stderr goes into the same pipe, interleaved as written
    // (tools such as ip(8) explain a failure only on stderr).
    bool merge_stderr = false;
    // The child reads /dev/null instead of our stdin (tools that must not wait for input).
    bool null_stdin = false;
    // Without capture_stdout: the child's stdout goes to our stderr, so that what we print on
    // stdout (a benchmark's results) stays clean. Spawn refuses it with capture_stdout.
    bool stdout_to_stderr = false;
    // Non-zero: the child gets this signal (PR_SET_PDEATHSIG) when we die, even of SIGKILL,
    // so a launcher's children do not outlive it. Linux sends it when the *thread* that
    // called Spawn ends, not only the process: spawn from a thread that lives as long as the
    // child (main(), the child's owner). posix_spawn cannot set it, so such a child is
    // started with fork + exec.
    int parent_death_signal = 0;
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
  // Everything the child prints until it closes stdout (a last line without a newline
  // included). DeadlineExceeded, with what was read so far in the message, if it has not
  // closed stdout by `deadline`.
  absl::StatusOr<std::string> ReadAll(absl::Time deadline);
  // Sends `signal` (e.g. SIGKILL) if the child has not been reaped yet.
  void Kill(int signal);
  // The exit code, or 128 + the signal number if a signal ended it. DeadlineExceeded if the
  // child is still running at `deadline`.
  absl::StatusOr<int> Wait(absl::Time deadline);

 private:
  Subprocess(pid_t pid, int stdout_fd, std::string name)
      : pid_(pid), stdout_fd_(stdout_fd), name_(std::move(name)) {}

  // Reads what the child printed into buffered_; false once stdout is closed (or was never
  // captured). Waits until something arrives or `deadline` passes.
  absl::StatusOr<bool> Fill(absl::Time deadline);

  pid_t pid_;
  int stdout_fd_;  // -1 when not captured or closed
  std::string name_;
  std::string buffered_;  // read but not yet returned
  bool reaped_ = false;
  int exit_code_ = 0;
};

}  // namespace cosched
