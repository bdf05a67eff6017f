// File: tools/coschedctl/wait_command.cc
// `wait ID [--for 10m]`: polls the job until it ends, printing a line whenever its state,
// generation or step moves. Exit 0 when it succeeded, 1 when it failed or was cancelled
// (with its last events), 3 when --for ran out first.
#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "tools/coschedctl/command.h"
#include "tools/coschedctl/format.h"
#include "tools/coschedctl/table.h"

namespace cosched::coschedctl {
namespace {

// Often enough to see progress, rare enough to cost the scheduler nothing.
constexpr absl::Duration kPollInterval = absl::Milliseconds(500);
// How many of the latest events explain a failure.
constexpr int kLastEvents = 5;

void WaitFlags(FlagParser& parser, Options& options) {
  parser.Duration("for", &options.wait_for, "give up (exit 3) after this long");
}

bool Finished(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

std::string ProgressLine(const cosched::v1::JobStatus& job) {
  std::string line =
      absl::StrCat(LocalTime(absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch())), "  ",
                   job.job_id(), "  ", job.state(), "  generation ", job.generation(), "  workers ",
                   job.members_size(), "  step ", job.step(), "  epoch ", job.epoch());
  if (job.test_accuracy() >= 0) {
    absl::StrAppend(&line, "  test accuracy ",
                    absl::StrFormat("%.1f%%", job.test_accuracy() * 100));
  }
  if (!job.waiting_reason().empty()) absl::StrAppend(&line, "  (", job.waiting_reason(), ")");
  return line + "\n";
}

int Wait(const Context& context) {
  const std::string& id = context.args[0];
  const bool json = context.format == OutputFormat::kJson;
  // Progress is for people; in JSON mode it goes to stderr so stdout stays one document.
  FILE* progress = json ? stderr : stdout;
  const absl::Time give_up = absl::Now() + context.options.wait_for;
  cosched::v1::JobStatus last;
  bool first = true;
  while (true) {
    absl::StatusOr<cosched::v1::JobStatus> job = context.client->GetJob(id);
    if (!job.ok()) return ReportFailure(context, absl::StrCat("wait ", id), job.status());
    if (first || job->state() != last.state() || job->generation() != last.generation() ||
        job->step() != last.step()) {
      std::fputs(ProgressLine(*job).c_str(), progress);
      std::fflush(progress);
    }
    first = false;
    last = *std::move(job);
    const absl::Time now = absl::Now();
    if (Finished(last.state()) || now >= give_up) break;
    // The last poll lands on --for itself, so a job ending just in time still counts.
    absl::SleepFor(std::min(kPollInterval, give_up - now));
  }

  const bool succeeded = last.state() == "succeeded";
  const char* outcome = Finished(last.state()) ? last.state().c_str() : "timeout";
  if (json) PrintJson({{"outcome", outcome}, {"job", ProtoToJson(last)}});
  if (succeeded) return kExitOk;
  if (!Finished(last.state())) {
    std::fprintf(stderr, "coschedctl: wait %s: still %s after %s\n", id.c_str(),
                 last.state().c_str(), absl::FormatDuration(context.options.wait_for).c_str());
    return kExitTimedOut;
  }
  std::fprintf(stderr, "coschedctl: job %s %s; its last events:\n", id.c_str(),
               last.state().c_str());
  Table events({"  TIME", "WHAT"});
  const int from = std::max(0, last.events_size() - kLastEvents);
  for (int i = from; i < last.events_size(); ++i) {
    events.AddRow(
        {absl::StrCat("  ", LocalTime(last.events(i).unix_seconds())), last.events(i).what()});
  }
  std::fputs(events.Render().c_str(), stderr);
  return kExitFailed;
}

}  // namespace

std::vector<Command> WaitCommands() {
  return {{{"wait"},
           "ID",
           1,
           1,
           "wait for a job to end; exit 0 succeeded, 1 failed, 3 timeout",
           WaitFlags,
           Wait}};
}

}  // namespace cosched::coschedctl
