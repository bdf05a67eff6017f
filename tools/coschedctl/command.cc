// File: tools/coschedctl/command.cc
#include "tools/coschedctl/command.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "tools/coschedctl/connection.h"

namespace cosched::coschedctl {

void RegisterGlobalFlags(FlagParser& parser, Options& options) {
  parser.String("scheduler", &options.scheduler, "HOST:PORT of cosched-scheduler");
  parser.String("output", &options.output, "table (for people) or json (for scripts)");
  parser.Short('o', "output");
  parser.Duration("timeout", &options.timeout, "deadline of each call to the scheduler");
  RegisterConnectionFlags(parser, options);
}

int ReportFailure(const Context& context, absl::string_view what, const absl::Status& status) {
  if (IsUnreachable(status)) {
    std::fprintf(stderr,
                 "coschedctl: cannot reach the scheduler at %s (%s: %s).\n"
                 "Start cosched-scheduler there, or point --scheduler / COSCHED_SCHEDULER at a "
                 "running one.\n",
                 context.client->address().c_str(), absl::StatusCodeToString(status.code()).c_str(),
                 std::string(status.message()).c_str());
    return kExitUnreachable;
  }
  std::fprintf(stderr, "coschedctl: %s: %s: %s\n", std::string(what).c_str(),
               absl::StatusCodeToString(status.code()).c_str(),
               std::string(status.message()).c_str());
  return kExitFailed;
}

int ReportUsage(absl::string_view message) {
  std::fprintf(stderr, "coschedctl: %s (see coschedctl --help)\n", std::string(message).c_str());
  return kExitUsage;
}

void Print(absl::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace cosched::coschedctl
