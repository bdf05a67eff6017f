// File: tools/coschedctl/models_commands.cc
// The model commands: `get models`, `describe model NAME` (its versions, which serves, which
// nodes hold each), `promote NAME VERSION`, `rollback NAME` and `unpin NAME` (the model's
// policy picks the serving version again), and `publish NAME --checkpoint FILE` (a checkpoint
// file's weights as a version of model NAME).
#include <sys/stat.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/coschedctl/command.h"
#include "tools/coschedctl/format.h"
#include "tools/coschedctl/table.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/checkpoint_weights.h"

namespace cosched::coschedctl {
namespace {

std::string Serving(const cosched::v1::ModelStatus& model) {
  if (model.serving_version() < 0) return "-";
  return absl::StrCat(model.serving_version(), model.pinned() ? " (pinned)" : "");
}

std::string Accepted(const cosched::v1::ModelStatus& model) {
  if (model.serving_version() < 0) return "-";
  return model.acceptable_max_version() > 0
             ? absl::StrCat(model.acceptable_min_version(), "-", model.acceptable_max_version())
             : absl::StrCat(">=", model.acceptable_min_version());
}

int NodesServing(const cosched::v1::ModelStatus& model) {
  int nodes = 0;
  for (const cosched::v1::ModelVersionStatus& version : model.versions()) {
    const bool accepted = version.version() >= model.acceptable_min_version() &&
                          (model.acceptable_max_version() == 0 ||
                           version.version() <= model.acceptable_max_version());
    if (accepted) nodes += version.nodes_size();
  }
  return nodes;
}

int GetModels(const Context& context) {
  absl::StatusOr<cosched::v1::ListModelsReply> reply = context.client->ListModels("");
  if (!reply.ok()) return ReportFailure(context, "get models", reply.status());
  if (context.format == OutputFormat::kJson) {
    PrintJson(ProtoToJson(*reply));
    return kExitOk;
  }
  if (reply->models().empty()) {
    Print("No models: no job has declared one (a job's serving.model, or its name).\n");
    return kExitOk;
  }
  Table table({"MODEL", "JOB", "POLICY", "SERVING", "ACCEPTED", "NODES", "VERSIONS", "NEWEST"});
  for (size_t column : {5, 6}) table.AlignRight(column);
  for (const cosched::v1::ModelStatus& model : reply->models()) {
    table.AddRow({model.model(), model.job_id(), model.policy(), Serving(model), Accepted(model),
                  absl::StrCat(NodesServing(model)), absl::StrCat(model.versions_size()),
                  model.versions().empty() ? "-" : absl::StrCat(model.versions(0).version())});
  }
  Print(table.Render());
  return kExitOk;
}

void PrintModel(const cosched::v1::ModelStatus& model) {
  Table fields;
  fields.AddRow({"Model:", model.model()});
  fields.AddRow({"Trained by:", model.job_id().empty() ? "- (checkpoints only)" : model.job_id()});
  fields.AddRow(
      {"Policy:", absl::StrCat(model.policy(), model.pinned() ? ", pinned by hand" : "")});
  fields.AddRow({"Serving:", Serving(model)});
  if (model.serving_version() >= 0) {
    fields.AddRow(
        {"Since:", absl::StrCat(LocalTime(model.serving_since_unix_seconds()), " (",
                                Age(SecondsSince(model.serving_since_unix_seconds())), " ago)")});
  }
  fields.AddRow({"Accepted:", absl::StrCat(Accepted(model), " (staleness bound ",
                                           model.max_staleness_steps(), " steps)")});
  std::string out = fields.Render();
  absl::StrAppend(&out, "Versions:\n");
  Table versions({"  VERSION", "SERVING", "ACCURACY", "PUBLISHED", "FROM", "NODES"});
  for (const cosched::v1::ModelVersionStatus& version : model.versions()) {
    versions.AddRow({absl::StrCat("  ", version.version()), version.serving() ? "yes" : "",
                     Accuracy(version.test_accuracy()),
                     absl::StrCat(Age(SecondsSince(version.published_unix_seconds())), " ago"),
                     version.checkpoint().empty() ? absl::StrCat("job ", version.job_id())
                                                  : version.checkpoint(),
                     version.nodes().empty() ? "-" : absl::StrJoin(version.nodes(), " ")});
  }
  absl::StrAppend(&out, versions.Render());
  Print(out);
}

int DescribeModel(const Context& context) {
  const std::string& name = context.args[0];
  absl::StatusOr<cosched::v1::ListModelsReply> reply = context.client->ListModels(name);
  if (!reply.ok())
    return ReportFailure(context, absl::StrCat("describe model ", name), reply.status());
  if (reply->models_size() != 1) {
    return ReportFailure(context, absl::StrCat("describe model ", name),
                         absl::InternalError("the scheduler answered with no model"));
  }
  if (context.format == OutputFormat::kJson) {
    PrintJson(ProtoToJson(reply->models(0)));
    return kExitOk;
  }
  PrintModel(reply->models(0));
  return kExitOk;
}

int Change(const Context& context, const cosched::v1::PromoteModelRequest& request,
           const std::string& what) {
  absl::StatusOr<cosched::v1::ModelStatus> model = context.client->PromoteModel(request);
  if (!model.ok()) return ReportFailure(context, what, model.status());
  if (context.format == OutputFormat::kJson) {
    PrintJson(ProtoToJson(*model));
    return kExitOk;
  }
  Print(absl::StrCat("model ", model->model(), " now serves version ", Serving(*model), "\n"));
  return kExitOk;
}

int Promote(const Context& context) {
  cosched::v1::PromoteModelRequest request;
  request.set_model(context.args[0]);
  int64_t version = 0;
  if (!absl::SimpleAtoi(context.args[1], &version) || version < 0) {
    return ReportUsage(
        absl::StrCat("promote: VERSION must be a training step, not '", context.args[1], "'"));
  }
  request.set_version(version);
  return Change(context, request, absl::StrCat("promote ", context.args[0]));
}

int Rollback(const Context& context) {
  cosched::v1::PromoteModelRequest request;
  request.set_model(context.args[0]);
  request.set_rollback(true);
  return Change(context, request, absl::StrCat("rollback ", context.args[0]));
}

int Unpin(const Context& context) {
  cosched::v1::PromoteModelRequest request;
  request.set_model(context.args[0]);
  request.set_policy(true);
  return Change(context, request, absl::StrCat("unpin ", context.args[0]));
}

void PublishFlags(FlagParser& parser, Options& options) {
  parser.String("checkpoint", &options.checkpoint,
                "the checkpoint file (ckpt-<step>.bin) whose weights to publish");
  parser.Int("version", &options.version, "publish as this version (default: the file's step)");
  parser.String("test-accuracy", &options.test_accuracy,
                "its evaluated test accuracy, a fraction (default: not evaluated)");
  parser.Bool("promote", &options.promote, "serve it at once, pinned, as `promote` does");
}

int Publish(const Context& context) {
  const Options& options = context.options;
  const std::string what = absl::StrCat("publish ", context.args[0]);
  if (options.checkpoint.empty()) return ReportUsage("publish needs --checkpoint FILE");
  worker::CheckpointVersion as;
  as.model = context.args[0];
  if (options.version >= 0) as.version = options.version;
  if (!options.test_accuracy.empty() &&
      (!absl::SimpleAtod(options.test_accuracy, &as.test_accuracy) || as.test_accuracy < 0 ||
       as.test_accuracy > 1)) {
    return ReportUsage(absl::StrCat("publish: --test-accuracy must be a fraction in [0, 1], not '",
                                    options.test_accuracy, "'"));
  }
  absl::StatusOr<worker::TrainingState> state = worker::ReadCheckpoint(options.checkpoint);
  if (!state.ok()) return ReportFailure(context, what, state.status());
  absl::StatusOr<cosched::v1::ModelWeights> weights = worker::CheckpointWeights(*state, as);
  if (!weights.ok()) {
    return ReportFailure(context, what,
                         absl::InvalidArgumentError(
                             absl::StrCat(options.checkpoint, ": ", weights.status().message())));
  }
  // The version is as old as the file: answers report their version's age from this.
  struct stat file {};
  if (::stat(options.checkpoint.c_str(), &file) == 0) {
    weights->set_published_unix_seconds(static_cast<double>(file.st_mtim.tv_sec) +
                                        static_cast<double>(file.st_mtim.tv_nsec) * 1e-9);
  }
  cosched::v1::PublishModelVersionRequest request;
  *request.mutable_weights() = *std::move(weights);
  request.set_checkpoint(options.checkpoint);
  request.set_promote(options.promote);
  absl::StatusOr<cosched::v1::ModelStatus> model = context.client->PublishModelVersion(request);
  if (!model.ok()) return ReportFailure(context, what, model.status());
  if (context.format == OutputFormat::kJson) {
    PrintJson(ProtoToJson(*model));
    return kExitOk;
  }
  Print(absl::StrCat("published ", options.checkpoint, " as model ", model->model(), " version ",
                     request.weights().version(), "; serving: ", Serving(*model), "\n"));
  return kExitOk;
}

}  // namespace

std::vector<Command> ModelCommands() {
  return {
      {{"get", "models"},
       "",
       0,
       0,
       "list served models: policy, serving version, accepted versions, nodes holding them",
       nullptr,
       GetModels},
      {{"describe", "model"},
       "NAME",
       1,
       1,
       "a model's versions: accuracy, age, which serves, which nodes hold each",
       nullptr,
       DescribeModel},
      {{"promote"},
       "NAME VERSION",
       2,
       2,
       "serve VERSION of model NAME from now on (pinned: its policy rests)",
       nullptr,
       Promote},
      {{"rollback"},
       "NAME",
       1,
       1,
       "serve the version that served before (pinned)",
       nullptr,
       Rollback},
      {{"unpin"},
       "NAME",
       1,
       1,
       "let the model's policy pick the serving version again",
       nullptr,
       Unpin},
      {{"publish"},
       "NAME",
       1,
       1,
       "publish a checkpoint file's weights as a version of model NAME (--checkpoint FILE)",
       PublishFlags,
       Publish},
  };
}

}  // namespace cosched::coschedctl
