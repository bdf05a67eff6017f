// File: bench/process.cc
#include "bench/process.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"

namespace cosched::bench {
namespace {

constexpr absl::Duration kStopGrace = absl::Seconds(5);

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so the system call is made directly.
int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

struct Child {
  const ChildSpec* spec;
  pid_t pid = -1;
  int pidfd = -1;  // readable once the child exits; -1 if pidfd_open is unavailable
  bool reaped = false;
  int status = 0;
};

std::string Describe(const Child& child) {
  return absl::StrCat(child.spec->name, " (pid ", child.pid, ")");
}

std::string DescribeExit(const Child& child) {
  if (WIFEXITED(child.status)) {
    return absl::StrCat(Describe(child), " exited with status ", WEXITSTATUS(child.status));
  }
  if (WIFSIGNALED(child.status)) {
    return absl::StrCat(Describe(child), " was killed by signal ", WTERMSIG(child.status), " (",
                        strsignal(WTERMSIG(child.status)), ")");
  }
  return absl::StrCat(Describe(child), " ended with wait status ", child.status);
}

bool Failed(const Child& child) {
  return child.reaped && !(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0);
}

// fork + exec rather than posix_spawn, for one step in between: PR_SET_PDEATHSIG, so that a
// child (a rank, or mpirun, which then stops its own ranks) dies with the launcher even when
// the launcher is killed outright. Between fork and exec only async-signal-safe calls.
absl::StatusOr<pid_t> Spawn(const ChildSpec& spec) {
  std::vector<char*> argv;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  if (::access(argv[0], X_OK) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot start ", spec.name, ": ", spec.argv[0], ": ", std::strerror(errno)));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot start ", spec.name, ": fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);  // the launcher is already gone
    ::dup2(STDERR_FILENO, STDOUT_FILENO);     // stdout is for the launcher's results
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

// Reaps every child that has exited, without blocking.
void ReapExited(std::vector<Child>& children) {
  for (Child& child : children) {
    if (child.reaped) continue;
    if (::waitpid(child.pid, &child.status, WNOHANG) == child.pid) {
      child.reaped = true;
      if (child.pidfd >= 0) ::close(child.pidfd);
      child.pidfd = -1;
    }
  }
}

bool AllReaped(const std::vector<Child>& children) {
  return std::all_of(children.begin(), children.end(), [](const Child& c) { return c.reaped; });
}

// Waits until a child exits or `deadline` passes, then reaps what exited.
void WaitForAnExit(std::vector<Child>& children, absl::Time deadline) {
  std::vector<pollfd> fds;
  bool unpollable = false;  // a child without pidfd: poll in short steps instead
  for (const Child& child : children) {
    if (child.reaped) continue;
    if (child.pidfd >= 0) {
      fds.push_back({child.pidfd, POLLIN, 0});
    } else {
      unpollable = true;
    }
  }
  absl::Duration wait = std::max(deadline - absl::Now(), absl::ZeroDuration());
  if (unpollable) wait = std::min(wait, absl::Milliseconds(20));
  const int64_t ms = std::min<int64_t>(absl::ToInt64Milliseconds(wait) + 1, INT_MAX);
  ::poll(fds.data(), fds.size(), static_cast<int>(ms));
  ReapExited(children);
}

// Stops every child still running: SIGTERM, then SIGKILL after kStopGrace; reaps them all.
void StopAll(std::vector<Child>& children) {
  for (const Child& child : children) {
    if (!child.reaped) ::kill(child.pid, SIGTERM);
  }
  const absl::Time deadline = absl::Now() + kStopGrace;
  while (!AllReaped(children) && absl::Now() < deadline) WaitForAnExit(children, deadline);
  for (Child& child : children) {
    if (child.reaped) continue;
    spdlog::warn("{} ignored SIGTERM; killing it", Describe(child));
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, &child.status, 0);
    child.reaped = true;
    if (child.pidfd >= 0) ::close(child.pidfd);
    child.pidfd = -1;
  }
}

}  // namespace

absl::Status RunChildren(const std::vector<ChildSpec>& specs, absl::Duration timeout) {
  std::vector<Child> children;
  children.reserve(specs.size());
  for (const ChildSpec& spec : specs) {
    absl::StatusOr<pid_t> pid = Spawn(spec);
    if (!pid.ok()) {
      StopAll(children);
      return pid.status();
    }
    children.push_back({&spec, *pid, PidfdOpen(*pid)});
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (!AllReaped(children)) {
    for (const Child& child : children) {
      if (!Failed(child)) continue;
      const std::string what = DescribeExit(child);
      StopAll(children);
      return absl::InternalError(absl::StrCat(what, "; its log is above on stderr"));
    }
    if (absl::Now() >= deadline) {
      std::string hung;
      for (const Child& child : children) {
        if (!child.reaped) absl::StrAppend(&hung, hung.empty() ? "" : ", ", Describe(child));
      }
      StopAll(children);
      return absl::DeadlineExceededError(absl::StrCat(hung, " still running after ",
                                                      absl::FormatDuration(timeout),
                                                      " (the launch timeout, --timeout); stopped"));
    }
    WaitForAnExit(children, deadline);
  }
  for (const Child& child : children) {
    if (Failed(child)) return absl::InternalError(DescribeExit(child));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FindOnPath(absl::string_view program) {
  const char* path = std::getenv("PATH");
  if (path != nullptr) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      const std::string candidate = absl::StrCat(dir, "/", program);
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat("'", program, "' is not on PATH"));
}

absl::StatusOr<std::string> SelfExecutable() {
  // Not the path the link points to: that file may be rebuilt while the benchmark runs. This
  // link opens the very binary this process runs, even after the path is replaced, and it
  // works from mpirun's children too while this process lives.
  const std::string link = absl::StrCat("/proc/", ::getpid(), "/exe");
  if (::access(link.c_str(), X_OK) != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot execute ", link, ": ", std::strerror(errno)));
  }
  return link;
}

absl::StatusOr<TempDir> TempDir::Create(absl::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/", prefix, "-XXXXXX");
  if (::mkdtemp(pattern.data()) == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot create a directory like ", pattern, ": ", std::strerror(errno)));
  }
  return TempDir(std::move(pattern));
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace cosched::bench
