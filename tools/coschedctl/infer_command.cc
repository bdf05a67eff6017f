// File: tools/coschedctl/infer_command.cc
// `infer (--image-index N | --image FILE) [--deadline 20ms] [--model NAME]`: sends one image
// through the scheduler, which routes it to a worker that holds a fresh version of the model
// or refuses at once, and shows the answer and who served it with which version.
#include <cstdint>
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/coschedctl/command.h"
#include "tools/coschedctl/format.h"
#include "tools/coschedctl/image_input.h"
#include "tools/coschedctl/table.h"
#include "worker/data/idx_reader.h"

namespace cosched::coschedctl {
namespace {

void InferFlags(FlagParser& parser, Options& options) {
  parser.Int("image-index", &options.image_index, "send image N of the Fashion-MNIST test set");
  parser.String("image", &options.image, "send this file: 784 raw bytes or a 28x28 PGM (P5)");
  options.data_dir = worker::kFashionMnistDir;
  parser.String("data-dir", &options.data_dir, "where the Fashion-MNIST files are");
  parser.Duration("deadline", &options.deadline, "answer within this long or be refused");
  parser.String("model", &options.model,
                "the model to answer with (default: the scheduler's default model)");
}

std::string Label(int64_t label) {
  return absl::StrCat(label, " (", FashionMnistClassName(label), ")");
}

int Infer(const Context& context) {
  const Options& options = context.options;
  const bool from_test_set = options.image_index >= 0;
  if (from_test_set == !options.image.empty()) {
    return ReportUsage("infer needs exactly one of --image-index N and --image FILE");
  }
  const int64_t deadline_ms = absl::ToInt64Milliseconds(options.deadline);
  if (deadline_ms < 1 || deadline_ms > UINT32_MAX) {
    return ReportUsage(absl::StrCat("--deadline ", absl::FormatDuration(options.deadline),
                                    " must be between 1ms and ", UINT32_MAX, "ms"));
  }

  LabeledImage image;
  if (from_test_set) {
    absl::StatusOr<LabeledImage> loaded = TestSetImage(options.data_dir, options.image_index);
    if (!loaded.ok()) {
      std::fprintf(stderr, "coschedctl: infer: %s\n",
                   std::string(loaded.status().message()).c_str());
      return kExitFailed;
    }
    image = *std::move(loaded);
  } else {
    absl::StatusOr<std::string> pixels = ReadImageFile(options.image);
    if (!pixels.ok()) {
      std::fprintf(stderr, "coschedctl: infer: %s\n",
                   std::string(pixels.status().message()).c_str());
      return kExitFailed;
    }
    image.pixels = *std::move(pixels);
  }

  cosched::v1::InferRequest request;
  request.add_images(image.pixels);
  request.set_deadline_ms(static_cast<uint32_t>(deadline_ms));
  request.set_model(options.model);
  absl::StatusOr<cosched::v1::InferReply> reply = context.client->Infer(request);
  if (!reply.ok()) return ReportFailure(context, "infer", reply.status());
  if (reply->classes_size() != 1) {
    return ReportFailure(context, "infer",
                         absl::InternalError(absl::StrCat("the reply has ", reply->classes_size(),
                                                          " classes for 1 image")));
  }
  const int64_t predicted = reply->classes(0);

  if (context.format == OutputFormat::kJson) {
    nlohmann::ordered_json out = {
        {"class", predicted},
        {"label", FashionMnistClassName(predicted)},
        {"node", reply->node_id()},
        {"model", reply->model()},
        {"version", reply->weights_step()},
        {"version_age_seconds", reply->version_age_seconds()},
        {"version_test_accuracy", reply->version_test_accuracy()},
        {"weights_step", reply->weights_step()},
        {"queue_seconds", reply->queue_seconds()},
        {"compute_seconds", reply->compute_seconds()},
        {"deadline_ms", deadline_ms},
        {"deadline_met", reply->deadline_met()},
        {"scores", std::vector<float>(reply->scores().begin(), reply->scores().end())}};
    if (image.label >= 0) {
      out["true_class"] = image.label;
      out["true_label"] = FashionMnistClassName(image.label);
    }
    PrintJson(out);
    return kExitOk;
  }
  Table fields;
  fields.AddRow({"Class:", Label(predicted)});
  if (image.label >= 0) {
    fields.AddRow(
        {"True label:",
         absl::StrCat(Label(image.label), image.label == predicted ? ", correct" : ", wrong")});
  }
  fields.AddRow({"Served by:", reply->node_id()});
  fields.AddRow({"Model:", absl::StrCat(reply->model(), " version ", reply->weights_step(), " (",
                                        ShortDuration(reply->version_age_seconds()), " old)")});
  fields.AddRow({"Queue:", ShortDuration(reply->queue_seconds())});
  fields.AddRow({"Compute:", ShortDuration(reply->compute_seconds())});
  fields.AddRow(
      {"Deadline:", absl::StrCat(deadline_ms, "ms, ", reply->deadline_met() ? "met" : "missed")});
  Print(fields.Render());
  return kExitOk;
}

}  // namespace

std::vector<Command> InferCommands() {
  return {{{"infer"},
           "",
           0,
           0,
           "classify one image (--image-index N or --image FILE) within --deadline",
           InferFlags,
           Infer}};
}

}  // namespace cosched::coschedctl
