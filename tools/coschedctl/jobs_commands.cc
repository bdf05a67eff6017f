// File: tools/coschedctl/jobs_commands.cc
// The job commands: `submit -f FILE`, `get jobs`, `describe job ID`, `cancel ID`.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tools/coschedctl/command.h"
#include "tools/coschedctl/format.h"
#include "tools/coschedctl/table.h"

namespace cosched::coschedctl {
namespace {

// A job file, or stdin for "-" (so `... | coschedctl submit -f -` works).
absl::StatusOr<std::string> ReadJobFile(const std::string& path) {
  std::stringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read '", path, "': ", std::strerror(errno)));
  }
  text << in.rdbuf();
  return text.str();
}

void SubmitFlags(FlagParser& parser, Options& options) {
  parser.String("file", &options.file, "the job YAML (as in configs/jobs/); - for stdin");
  parser.Short('f', "file");
}

int Submit(const Context& context) {
  if (context.options.file.empty()) return ReportUsage("submit needs -f FILE");
  absl::StatusOr<std::string> yaml = ReadJobFile(context.options.file);
  if (!yaml.ok()) {
    std::fprintf(stderr, "coschedctl: submit: %s\n", std::string(yaml.status().message()).c_str());
    return kExitFailed;
  }
  absl::StatusOr<std::string> id = context.client->SubmitJob(*yaml);
  if (!id.ok()) {
    return ReportFailure(context, absl::StrCat("submit ", context.options.file), id.status());
  }
  if (context.format == OutputFormat::kJson) {
    PrintJson({{"job_id", *id}});
  } else {
    Print(absl::StrCat("job ", *id, " submitted\n"));
  }
  return kExitOk;
}

std::string Workers(const cosched::v1::JobStatus& job) {
  return absl::StrCat(job.members_size(), " (", job.min_workers(), "-", job.max_workers(), ")");
}

int GetJobs(const Context& context) {
  absl::StatusOr<cosched::v1::ListJobsReply> reply = context.client->ListJobs();
  if (!reply.ok()) return ReportFailure(context, "get jobs", reply.status());
  if (context.format == OutputFormat::kJson) {
    PrintJson(ProtoToJson(*reply));
    return kExitOk;
  }
  if (reply->jobs().empty()) {
    Print("No jobs.\n");
    return kExitOk;
  }
  Table table({"ID", "NAME", "STATE", "PRIORITY", "WORKERS", "GEN", "STEP", "EPOCH", "ACCURACY",
               "AGE", "WAITING"});
  for (size_t column : {3, 5, 6, 7, 8, 9}) table.AlignRight(column);
  for (const cosched::v1::JobStatus& job : reply->jobs()) {
    table.AddRow({job.job_id(), job.name(), job.state(), absl::StrCat(job.priority()), Workers(job),
                  absl::StrCat(job.generation()), absl::StrCat(job.step()),
                  absl::StrCat(job.epoch()), Accuracy(job.test_accuracy()),
                  Age(SecondsSince(job.submitted_unix_seconds())), job.waiting_reason()});
  }
  Print(table.Render());
  return kExitOk;
}

std::string EventsTable(const google::protobuf::RepeatedPtrField<cosched::v1::JobEvent>& events) {
  Table table({"  TIME", "WHAT"});
  for (const cosched::v1::JobEvent& event : events) {
    table.AddRow({absl::StrCat("  ", LocalTime(event.unix_seconds())), event.what()});
  }
  return table.Render();
}

// Bytes for people: "12.3 MB".
std::string Bytes(int64_t bytes) {
  return absl::StrFormat("%.1f MB", static_cast<double>(bytes) / 1e6);
}

int DescribeJob(const Context& context) {
  const std::string& id = context.args[0];
  absl::StatusOr<cosched::v1::JobStatus> job = context.client->GetJob(id);
  if (!job.ok()) return ReportFailure(context, absl::StrCat("describe job ", id), job.status());
  absl::StatusOr<cosched::v1::ExplainReply> explain = context.client->Explain(id);
  if (!explain.ok()) {
    return ReportFailure(context, absl::StrCat("describe job ", id), explain.status());
  }
  if (context.format == OutputFormat::kJson) {
    PrintJson({{"job", ProtoToJson(*job)}, {"explain", ProtoToJson(*explain)}});
    return kExitOk;
  }
  // Ranks of the synchronous group; the edge tier's members follow, each alone.
  std::vector<std::string> members;
  const int group = job->members_size() - job->edge_members_size();
  for (int rank = 0; rank < group; ++rank) {
    members.push_back(absl::StrCat(rank, ":", job->members(rank)));
  }
  Table fields;
  fields.AddRow({"Job:", job->job_id()});
  fields.AddRow({"Name:", job->name()});
  fields.AddRow({"State:", job->state()});
  fields.AddRow({"Summary:", explain->summary()});
  fields.AddRow({"Waiting:", job->waiting_reason().empty() ? "-" : job->waiting_reason()});
  fields.AddRow({"Priority:", absl::StrCat(job->priority())});
  fields.AddRow(
      {"Workers:", absl::StrCat(job->members_size(), " (min ", job->min_workers(), ", max ",
                                job->max_workers(), ", kind ", job->kind(), ")")});
  fields.AddRow({"Generation:", absl::StrCat(job->generation())});
  fields.AddRow({"Members:", members.empty() ? "-" : absl::StrJoin(members, " ")});
  if (job->has_edge()) {
    const cosched::v1::EdgeTierStatus& edge = job->edge();
    fields.AddRow({"Edge tier:", job->edge_members().empty()
                                     ? std::string("no member now")
                                     : absl::StrJoin(job->edge_members(), " ")});
    fields.AddRow(
        {"Rounds:",
         absl::StrCat(edge.outer_rounds(), " (", edge.outer_steps(), " updated); contributions ",
                      edge.contributions_accepted(), " accepted, ", edge.contributions_late(),
                      " late, ", edge.contributions_rejected(), " rejected")});
    const double per_sample = edge.samples_trained() > 0
                                  ? static_cast<double>(edge.vehicle_bytes()) /
                                        static_cast<double>(edge.samples_trained())
                                  : 0;
    fields.AddRow({"Edge bytes:", absl::StrFormat("vehicles %s, data center %s; %.1f B over "
                                                  "vehicle links per sample trained",
                                                  Bytes(edge.vehicle_bytes()),
                                                  Bytes(edge.datacenter_bytes()), per_sample)});
    if (!edge.codecs().empty()) {
      // Sorted by replica, as the map on the wire has no order.
      const std::map<std::string, std::string> codecs(edge.codecs().begin(), edge.codecs().end());
      fields.AddRow({"Codecs:", absl::StrJoin(codecs, ", ", absl::PairFormatter(" "))});
    }
  }
  fields.AddRow({"Progress:", absl::StrCat("step ", job->step(), ", epoch ", job->epoch(),
                                           ", test accuracy ", Accuracy(job->test_accuracy()))});
  fields.AddRow(
      {"Failures:", absl::StrCat(job->failures(), " of ", job->max_failures(), " allowed")});
  fields.AddRow({"Checkpoints:", job->checkpoint_dir().empty() ? "-" : job->checkpoint_dir()});
  fields.AddRow(
      {"Submitted:", absl::StrCat(LocalTime(job->submitted_unix_seconds()), " (",
                                  Age(SecondsSince(job->submitted_unix_seconds())), " ago)")});
  std::string out = fields.Render();
  if (explain->events().empty()) {
    absl::StrAppend(&out, "Events:       none\n");
  } else {
    absl::StrAppend(&out, "Events:\n", EventsTable(explain->events()));
  }
  Print(out);
  return kExitOk;
}

int Cancel(const Context& context) {
  const std::string& id = context.args[0];
  absl::Status status = context.client->CancelJob(id);
  if (!status.ok()) return ReportFailure(context, absl::StrCat("cancel ", id), status);
  if (context.format == OutputFormat::kJson) {
    PrintJson({{"job_id", id}, {"cancelled", true}});
  } else {
    Print(absl::StrCat("job ", id, " cancelled\n"));
  }
  return kExitOk;
}

}  // namespace

std::vector<Command> JobCommands() {
  return {
      {{"submit"}, "", 0, 0, "submit the job in -f FILE; prints its id", SubmitFlags, Submit},
      {{"get", "jobs"},
       "",
       0,
       0,
       "list jobs: state, workers, generation, progress",
       nullptr,
       GetJobs},
      {{"describe", "job"},
       "ID",
       1,
       1,
       "a job's members, generation, progress, why it waits, recent events",
       nullptr,
       DescribeJob},
      {{"cancel"}, "ID", 1, 1, "cancel a job", nullptr, Cancel},
  };
}

}  // namespace cosched::coschedctl
