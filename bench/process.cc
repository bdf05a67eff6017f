// File: bench/process.cc
#include "bench/process.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/subprocess.h"

namespace cosched::bench {
namespace {

constexpr absl::Duration kStopGrace = absl::Seconds(5);
// Subprocess::Wait watches one child; looking at every child in turn this often notices
// whichever ends first. Soon enough that a failed rank stops its launch at once, rare enough
// not to take CPU from the ranks being timed.
constexpr absl::Duration kWatchInterval = absl::Milliseconds(20);

struct Child {
  const ChildSpec* spec;
  std::unique_ptr<Subprocess> process;
  std::optional<int> exit_code;  // once reaped: Subprocess's code, 128 + signal if killed
};

std::string Describe(const Child& child) {
  return absl::StrCat(child.spec->name, " (pid ", child.process->pid(), ")");
}

std::string DescribeExit(const Child& child) {
  const int code = *child.exit_code;
  if (code > 128 && code - 128 < NSIG) {
    return absl::StrCat(Describe(child), " was killed by signal ", code - 128, " (",
                        strsignal(code - 128), ")");
  }
  return absl::StrCat(Describe(child), " exited with status ", code);
}

// Records the child's exit code if it has exited; does not wait.
absl::Status CheckExited(Child& child) {
  if (child.exit_code.has_value()) return absl::OkStatus();
  absl::StatusOr<int> code = child.process->Wait(absl::InfinitePast());
  if (code.ok()) {
    child.exit_code = *code;
  } else if (!absl::IsDeadlineExceeded(code.status())) {
    return absl::Status(code.status().code(),
                        absl::StrCat(Describe(child), ": ", code.status().message()));
  }
  return absl::OkStatus();
}

// Stops every child still running: SIGTERM, then SIGKILL after kStopGrace; reaps them all.
void StopAll(std::vector<Child>& children) {
  for (Child& child : children) {
    if (!child.exit_code.has_value()) child.process->Kill(SIGTERM);
  }
  const absl::Time deadline = absl::Now() + kStopGrace;
  for (Child& child : children) {
    if (child.exit_code.has_value()) continue;
    if (absl::StatusOr<int> code = child.process->Wait(deadline); code.ok()) {
      child.exit_code = *code;
      continue;
    }
    spdlog::warn("{} ignored SIGTERM; killing it", Describe(child));
    child.process->Kill(SIGKILL);
    if (absl::StatusOr<int> code = child.process->Wait(absl::InfiniteFuture()); code.ok()) {
      child.exit_code = *code;
    }
    // Otherwise the Subprocess destructor kills and reaps it.
  }
}

}  // namespace

absl::Status RunChildren(const std::vector<ChildSpec>& specs, absl::Duration timeout) {
  Subprocess::Options options;
  options.capture_stdout = false;
  options.stdout_to_stderr = true;  // stdout is for the launcher's results
  // A rank, or mpirun (which then stops its own ranks), dies with the launcher even when the
  // launcher is killed outright. This thread waits for the children until they are reaped,
  // so it outlives them, as that option asks.
  options.parent_death_signal = SIGTERM;
  std::vector<Child> children;
  children.reserve(specs.size());
  for (const ChildSpec& spec : specs) {
    absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Spawn(spec.argv, options);
    if (!process.ok()) {
      StopAll(children);
      return absl::Status(process.status().code(),
                          absl::StrCat(spec.name, ": ", process.status().message()));
    }
    children.push_back({&spec, *std::move(process), std::nullopt});
  }
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    bool running = false;
    // Every child that failed by now, not only the first in rank order: a rank that crashed
    // is often reported a moment after the peer that saw its connection close.
    std::string failed;
    for (Child& child : children) {
      RETURN_IF_ERROR(CheckExited(child));
      if (!child.exit_code.has_value()) {
        running = true;
      } else if (*child.exit_code != 0) {
        absl::StrAppend(&failed, failed.empty() ? "" : "; ", DescribeExit(child));
      }
    }
    if (!failed.empty()) {
      StopAll(children);
      return absl::InternalError(absl::StrCat(failed, "; their logs are above on stderr"));
    }
    if (!running) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      std::string hung;
      for (const Child& child : children) {
        if (!child.exit_code.has_value()) {
          absl::StrAppend(&hung, hung.empty() ? "" : ", ", Describe(child));
        }
      }
      StopAll(children);
      return absl::DeadlineExceededError(absl::StrCat(hung, " still running after ",
                                                      absl::FormatDuration(timeout),
                                                      " (the launch timeout, --timeout); stopped"));
    }
    absl::SleepFor(std::min(kWatchInterval, deadline - absl::Now()));
  }
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
