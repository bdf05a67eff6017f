// File: tests/support/run_command.h
// RunCommand: run a program to completion and return what it printed, for test setup that
// drives system tools (ip, tc). A Subprocess with stderr merged into stdout (a failed `ip`
// call explains itself only on stderr) that turns a non-zero exit into an error naming the
// command, the exit code and that output.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cosched::testing {

// Runs argv[0] (looked up in PATH) with our environment and returns its stdout and stderr,
// interleaved as written. An error if it cannot start, exits non-zero, is ended by a signal,
// or runs past `timeout` (then it is killed).
absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv,
                                       absl::Duration timeout = absl::Seconds(30));

// argv joined with spaces, each element shell-quoted when needed: for error messages that a
// reader can paste into a shell.
std::string CommandLine(const std::vector<std::string>& argv);

// `text` quoted for a POSIX shell: '...' with embedded quotes escaped.
std::string ShellQuote(const std::string& text);

}  // namespace cosched::testing
