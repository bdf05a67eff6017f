// File: tests/support/run_command.cc
#include "tests/support/run_command.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "common/subprocess.h"

namespace cosched::testing {

std::string ShellQuote(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-./=:,+@%") == std::string::npos) {
    return text;
  }
  return absl::StrCat("'", absl::StrReplaceAll(text, {{"'", "'\\''"}}), "'");
}

std::string CommandLine(const std::vector<std::string>& argv) {
  return absl::StrJoin(
      argv, " ", [](std::string* out, const std::string& arg) { out->append(ShellQuote(arg)); });
}

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv,
                                       absl::Duration timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("RunCommand needs a program");
  Subprocess::Options options;
  options.merge_stderr = true;  // a failed `ip` call explains itself only on stderr
  options.null_stdin = true;
  absl::StatusOr<std::unique_ptr<Subprocess>> child = Subprocess::Spawn(argv, options);
  if (!child.ok()) {
    return absl::NotFoundError(
        absl::StrCat("cannot start `", CommandLine(argv), "`: ", child.status().message()));
  }
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<std::string> output = (*child)->ReadAll(deadline);
  if (absl::IsDeadlineExceeded(output.status())) {
    return absl::DeadlineExceededError(absl::StrCat("`", CommandLine(argv), "` ran longer than ",
                                                    absl::FormatDuration(timeout), ": ",
                                                    output.status().message()));
  }
  RETURN_IF_ERROR(output.status());
  // Its stdout is closed: it has exited or is about to.
  absl::StatusOr<int> code = (*child)->Wait(deadline + absl::Seconds(5));
  RETURN_IF_ERROR(code.status());
  if (*code > 128) {
    return absl::InternalError(absl::StrCat("`", CommandLine(argv), "` was killed by signal ",
                                            *code - 128, ": ", *output));
  }
  if (*code != 0) {
    return absl::InternalError(
        absl::StrCat("`", CommandLine(argv), "` exited with ", *code, ": ", *output));
  }
  return output;
}

}  // namespace cosched::testing
