// File: worker/inference/inference_engine.cc
#include "worker/inference/inference_engine.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/thread_priority.h"

namespace cosched::worker {

InferenceEngine::InferenceEngine(const Mlp* model, ComputeToken* token, AdmissionOptions admission,
                                 WorkerMetrics* metrics)
    : model_(model),
      token_(token),
      metrics_(metrics),
      queue_(RealClock::Get(), admission),
      executor_([this] { RunExecutor(); }) {}

InferenceEngine::~InferenceEngine() {
  queue_.Close();
  executor_.join();
}

void InferenceEngine::PublishVersion(ModelVersion version, std::vector<float> params) {
  auto weights = std::make_shared<const Weights>(Weights{std::move(params), std::move(version)});
  MutexLock lock(&mu_);
  weights_ = std::move(weights);
}

std::optional<ModelVersion> InferenceEngine::version() const {
  MutexLock lock(&mu_);
  if (weights_ == nullptr) return std::nullopt;
  return weights_->version;
}

absl::StatusOr<InferenceEngine::ServedWeights> InferenceEngine::Parameters(const std::string& model,
                                                                           int64_t version) const {
  std::shared_ptr<const Weights> weights;
  {
    MutexLock lock(&mu_);
    weights = weights_;
  }
  if (weights == nullptr || weights->version.model != model || weights->version.step != version) {
    return absl::FailedPreconditionError(
        absl::StrCat("this node serves ",
                     weights == nullptr
                         ? std::string("no version")
                         : absl::StrCat(weights->version.model, " version ", weights->version.step),
                     ", not ", model, " version ", version));
  }
  return ServedWeights{weights->version, weights->params};
}

absl::StatusOr<InferenceResult> InferenceEngine::Infer(std::vector<float> images,
                                                       absl::Time deadline,
                                                       const VersionWanted& wanted) {
  const absl::Time arrival = absl::Now();
  const size_t input = static_cast<size_t>(model_->input_size());
  if (images.empty() || images.size() % input != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "images hold ", images.size(), " values; expected a positive multiple of ", input));
  }
  std::shared_ptr<const Weights> weights;
  {
    MutexLock lock(&mu_);
    weights = weights_;
  }
  if (weights == nullptr) {
    return absl::UnavailableError("no model version yet; training has not published one");
  }
  const ModelVersion& serving = weights->version;
  if (!wanted.model.empty() && wanted.model != serving.model) {
    return absl::FailedPreconditionError(
        absl::StrCat("this node serves model '", serving.model, "', not '", wanted.model, "'"));
  }
  if (serving.step < wanted.min_step || serving.step > wanted.max_step) {
    return absl::FailedPreconditionError(absl::StrCat(
        "this node serves version ", serving.step, " of model '", serving.model,
        "', outside the versions wanted (", wanted.min_step, " to ", wanted.max_step, ")"));
  }
  const int count = static_cast<int>(images.size() / input);
  if (queue_.TryServeNow(deadline, count)) {
    thread_local Mlp::Workspace workspace;
    return Serve(*weights, images, count, arrival, deadline, workspace);
  }
  auto pending = std::make_shared<Pending>();
  pending->weights = std::move(weights);
  pending->count = count;
  pending->images = std::move(images);
  if (absl::Status admitted = queue_.Admit(arrival, deadline, pending->count, pending);
      !admitted.ok()) {
    if (metrics_ != nullptr) metrics_->inference_refused.Increment();
    return admitted;
  }
  MutexLock lock(&pending->mu);
  while (!pending->done) pending->done_cv.Wait(&pending->mu);
  return pending->result;
}

void InferenceEngine::RunExecutor() {
  // Inference must take a core from the (background-priority) trainer at once.
  if (absl::Status raised = MakeThisThreadLatencySensitive(); !raised.ok()) {
    spdlog::info("inference executor: {}", raised.ToString());
  }
  Mlp::Workspace workspace;
  while (auto entry = queue_.PopEarliest()) {
    const std::shared_ptr<Pending>& pending = entry->item;
    InferenceResult result = Serve(*pending->weights, pending->images, pending->count,
                                   entry->arrival, entry->deadline, workspace);
    MutexLock lock(&pending->mu);
    pending->result = std::move(result);
    pending->done = true;
    pending->done_cv.SignalAll();
  }
}

InferenceResult InferenceEngine::Serve(const Weights& weights, const std::vector<float>& images,
                                       int count, absl::Time arrival, absl::Time deadline,
                                       Mlp::Workspace& workspace) {
  token_->BeginInference();
  if (metrics_ != nullptr) metrics_->SetServing(true);
  const absl::Time start = absl::Now();
  InferenceResult result;
  const int classes = model_->num_classes();
  result.scores.resize(static_cast<size_t>(count) * classes);
  model_->Predict(weights.params, images.data(), count, absl::MakeSpan(result.scores), workspace);
  const absl::Time end = absl::Now();
  if (metrics_ != nullptr) metrics_->SetServing(false);
  token_->EndInference();

  for (int i = 0; i < count; ++i) {
    const float* row = result.scores.data() + static_cast<size_t>(i) * classes;
    result.classes.push_back(static_cast<uint32_t>(std::max_element(row, row + classes) - row));
  }
  result.version = weights.version;
  result.queue = start - arrival;
  result.compute = end - start;
  result.deadline_met = end <= deadline;
  queue_.RecordService(count, result.compute);
  if (metrics_ != nullptr) {
    (result.deadline_met ? metrics_->inference_met : metrics_->inference_missed).Increment();
    metrics_->preemption_latency_seconds.Observe(absl::ToDoubleSeconds(result.queue));
    metrics_->inference_latency_seconds.Observe(absl::ToDoubleSeconds(end - arrival));
  }
  return result;
}

}  // namespace cosched::worker
