// File: common/subprocess.cc
#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace cosched {
namespace {

// Where the child's standard streams come from, decided before the child exists, so that
// posix_spawn and the fork path apply the very same decisions.
struct ChildStreams {
  bool null_stdin = false;
  int stdout_from = -1;  // a descriptor of ours the child gets as stdout; -1: inherit ours
  int stderr_from = -1;  // likewise for stderr
};

absl::StatusOr<pid_t> StartWithPosixSpawn(char* const argv[], char* const envp[],
                                          const ChildStreams& streams) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (streams.null_stdin) {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  if (streams.stdout_from >= 0) {
    posix_spawn_file_actions_adddup2(&actions, streams.stdout_from, STDOUT_FILENO);
  }
  if (streams.stderr_from >= 0) {
    posix_spawn_file_actions_adddup2(&actions, streams.stderr_from, STDERR_FILENO);
  }
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::NotFoundError(absl::StrCat("cannot start ", argv[0], ": ", std::strerror(rc)));
  }
  return pid;
}

// The forked child's way to exec: only async-signal-safe calls (another thread may have held
// a lock at fork time). A failure is reported through `error_fd` as an errno value; exec
// closes `error_fd` (O_CLOEXEC), which tells the parent that the exec worked.
[[noreturn]] void ExecInChild(char* const argv[], char* const envp[], const ChildStreams& streams,
                              int death_signal, pid_t parent, int error_fd) {
  bool ok = ::prctl(PR_SET_PDEATHSIG, death_signal) == 0;
  // The parent died before the prctl: the signal will never come, so go now.
  if (ok && ::getppid() != parent) ::_exit(127);
  if (ok && streams.null_stdin) {
    const int fd = ::open("/dev/null", O_RDONLY);
    ok = fd >= 0 && ::dup2(fd, STDIN_FILENO) >= 0;
    if (fd > STDIN_FILENO) ::close(fd);
  }
  if (ok && streams.stdout_from >= 0) ok = ::dup2(streams.stdout_from, STDOUT_FILENO) >= 0;
  if (ok && streams.stderr_from >= 0) ok = ::dup2(streams.stderr_from, STDERR_FILENO) >= 0;
  if (ok) ::execvpe(argv[0], argv, envp);
  const int error = errno;
  ssize_t ignored = ::write(error_fd, &error, sizeof(error));
  (void)ignored;
  ::_exit(127);
}

// fork + exec rather than posix_spawn, for the one step posix_spawn cannot take between the
// two: PR_SET_PDEATHSIG. fork() (not vfork or _Fork) because the sanitizers intercept it and
// keep their own state sound in the child.
absl::StatusOr<pid_t> StartWithFork(char* const argv[], char* const envp[],
                                    const ChildStreams& streams, int death_signal) {
  int error_pipe[2] = {-1, -1};
  if (::pipe2(error_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) ExecInChild(argv, envp, streams, death_signal, parent, error_pipe[1]);
  const int fork_errno = errno;
  ::close(error_pipe[1]);
  if (pid < 0) {
    ::close(error_pipe[0]);
    return absl::UnavailableError(
        absl::StrCat("cannot start ", argv[0], ": fork: ", std::strerror(fork_errno)));
  }
  // End of file: the exec closed the pipe. An errno value: the child failed and exited.
  int child_errno = 0;
  ssize_t n = 0;
  do {
    n = ::read(error_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  ::close(error_pipe[0]);
  if (n == 0) return pid;
  if (n < 0) ::kill(pid, SIGKILL);  // cannot tell whether it ran: do not leave it running
  int status = 0;
  ::waitpid(pid, &status, 0);
  return absl::NotFoundError(absl::StrCat("cannot start ", argv[0], ": ",
                                          n == static_cast<ssize_t>(sizeof(child_errno))
                                              ? std::strerror(child_errno)
                                              : "the child failed before exec"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Subprocess::Spawn(const std::vector<std::string>& argv,
                                                              const Options& options) {
  if (argv.empty()) return absl::InvalidArgumentError("Subprocess::Spawn needs a program");
  if (options.capture_stdout && options.stdout_to_stderr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Subprocess::Spawn of ", argv[0],
        ": capture_stdout and stdout_to_stderr are both set; stdout can go to one place"));
  }
  ChildStreams streams;
  streams.null_stdin = options.null_stdin;
  int pipe_fds[2] = {-1, -1};
  if (options.capture_stdout) {
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
    }
    streams.stdout_from = pipe_fds[1];
    if (options.merge_stderr) streams.stderr_from = pipe_fds[1];
  } else if (options.stdout_to_stderr) {
    streams.stdout_from = STDERR_FILENO;
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const std::string& e : options.extra_env) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);

  const absl::StatusOr<pid_t> pid =
      options.parent_death_signal != 0
          ? StartWithFork(args.data(), env.data(), streams, options.parent_death_signal)
          : StartWithPosixSpawn(args.data(), env.data(), streams);
  if (options.capture_stdout) ::close(pipe_fds[1]);
  if (!pid.ok()) {
    if (options.capture_stdout) ::close(pipe_fds[0]);
    return pid.status();
  }
  return std::unique_ptr<Subprocess>(new Subprocess(*pid, pipe_fds[0], argv[0]));
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
