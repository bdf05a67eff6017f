// File: worker/inference/inference_wire.cc
#include "worker/inference/inference_wire.h"

#include "absl/strings/str_cat.h"

namespace cosched::worker {

absl::StatusOr<std::vector<float>> DecodeImages(const cosched::v1::InferRequest& request,
                                                int image_bytes) {
  if (request.images_size() == 0) return absl::InvalidArgumentError("request has no images");
  std::vector<float> pixels;
  pixels.reserve(static_cast<size_t>(request.images_size()) * image_bytes);
  for (int i = 0; i < request.images_size(); ++i) {
    const std::string& image = request.images(i);
    if (static_cast<int>(image.size()) != image_bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("image ", i, " has ", image.size(), " bytes; expected ", image_bytes));
    }
    for (unsigned char byte : image) pixels.push_back(static_cast<float>(byte) / 255.0f);
  }
  return pixels;
}

absl::Time RequestDeadline(const cosched::v1::InferRequest& request, absl::Time arrival,
                           absl::Duration default_deadline) {
  return arrival +
         (request.deadline_ms() > 0 ? absl::Milliseconds(request.deadline_ms()) : default_deadline);
}

void FillReply(const InferenceResult& result, cosched::v1::InferReply* reply) {
  for (uint32_t c : result.classes) reply->add_classes(c);
  for (float s : result.scores) reply->add_scores(s);
  reply->set_weights_step(result.version.step);
  reply->set_model(result.version.model);
  reply->set_version_age_seconds(absl::ToDoubleSeconds(absl::Now() - result.version.published));
  reply->set_version_test_accuracy(result.version.test_accuracy);
  reply->set_queue_seconds(absl::ToDoubleSeconds(result.queue));
  reply->set_compute_seconds(absl::ToDoubleSeconds(result.compute));
  reply->set_deadline_met(result.deadline_met);
}

}  // namespace cosched::worker
