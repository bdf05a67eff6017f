// File: common/subprocess.cc
#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace cosched {

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Spawn(const std::vector<std::string>& argv,
                                                              const Options& options) {
  if (argv.empty()) return absl::InvalidArgumentError("Subprocess::Spawn needs a program");
  int pipe_fds[2] = {-1, -1};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (options.null_stdin) {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  if (options.capture_stdout) {
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      posix_spawn_file_actions_destroy(&actions);
      return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
    }
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    if (options.merge_stderr) {
      posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
    }
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const std::string& e : options.extra_env) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (options.capture_stdout) ::close(pipe_fds[1]);
  if (rc != 0) {
    if (options.capture_stdout) ::close(pipe_fds[0]);
    return absl::NotFoundError(absl::StrCat("cannot start ", argv[0], ": ", std::strerror(rc)));
  }
  return std::unique_ptr<Subprocess>(new Subprocess(pid, pipe_fds[0], argv[0]));
}

Subprocess::~Subprocess() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
}

absl::StatusOr<bool> Subprocess::Fill(absl::Time deadline) {
  while (stdout_fd_ >= 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(name_, " (pid ", pid_, ") is still writing"));
    }
    pollfd pfd{stdout_fd_, POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (ready < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("poll: ", std::strerror(errno)));
    }
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(stdout_fd_, buf, sizeof(buf));
    if (n > 0) {
      buffered_.append(buf, static_cast<size_t>(n));
      return true;
    }
    if (n == 0 || errno != EINTR) {
      ::close(stdout_fd_);
      stdout_fd_ = -1;
    }
  }
  return false;
}

absl::StatusOr<std::string> Subprocess::ReadLine(absl::Time deadline) {
  if (stdout_fd_ < 0 && buffered_.empty()) {
    return absl::OutOfRangeError(absl::StrCat(name_, ": stdout is closed"));
  }
  while (true) {
    if (const size_t newline = buffered_.find('\n'); newline != std::string::npos) {
      std::string line = buffered_.substr(0, newline);
      buffered_.erase(0, newline + 1);
      return line;
    }
    absl::StatusOr<bool> more = Fill(deadline);
    if (absl::IsDeadlineExceeded(more.status())) {
      return absl::DeadlineExceededError(
          absl::StrCat(name_, " (pid ", pid_, ") printed no line in time"));
    }
    if (!more.ok()) return more.status();
    if (!*more) return absl::OutOfRangeError(absl::StrCat(name_, ": stdout closed mid-line"));
  }
}

absl::StatusOr<std::string> Subprocess::ReadAll(absl::Time deadline) {
  while (true) {
    absl::StatusOr<bool> more = Fill(deadline);
    if (absl::IsDeadlineExceeded(more.status())) {
      return absl::DeadlineExceededError(absl::StrCat(more.status().message(), ": ", buffered_));
    }
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  std::string all;
  all.swap(buffered_);
  return all;
}

void Subprocess::Kill(int signal) {
  if (!reaped_) ::kill(pid_, signal);
}

absl::StatusOr<int> Subprocess::Wait(absl::Time deadline) {
  // waitpid has no timeout; poll it with a short, bounded pause between tries.
  while (!reaped_) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      reaped_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (done < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("waitpid: ", std::strerror(errno)));
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(name_, " (pid ", pid_, ") is still running"));
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  return exit_code_;
}

}  // namespace cosched
