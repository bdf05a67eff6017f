// File: worker/inference/inference_engine.h
// InferenceEngine: serves inference on this rank with the version of its model that the
// trainer last published (a committed step's weights, taken at the job's cadence).
// Requests are admitted (or refused at once) by an AdmissionQueue and served one at a time,
// earliest deadline first. A request that finds nothing queued or in service is served at
// once on the caller's thread (no hand-off: fewer wake-ups on cores the trainer uses);
// otherwise the executor thread serves it. Serving takes the compute from the trainer
// through the ComputeToken: the trainer stops at its next yield point.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "worker/inference/admission_queue.h"
#include "worker/inference/compute_token.h"
#include "worker/models/mlp.h"
#include "worker/worker_metrics.h"

namespace cosched::worker {

// One version of a model: the weights of a committed training step.
struct ModelVersion {
  std::string model;
  int64_t step = 0;           // the version: the step whose weights these are
  double test_accuracy = -1;  // evaluated at exactly this step; -1: not evaluated
  absl::Time published;       // when the trainer took it
};

// The versions a request accepts: of `model` (empty: whichever this node serves), with a step
// in [min_step, max_step]. The scheduler names them when it routes a request.
struct VersionWanted {
  VersionWanted() = default;
  explicit VersionWanted(std::string model_name, int64_t min = 0,
                         int64_t max = std::numeric_limits<int64_t>::max())
      : model(std::move(model_name)), min_step(min), max_step(max) {}

  std::string model;
  int64_t min_step = 0;
  int64_t max_step = std::numeric_limits<int64_t>::max();
};

struct InferenceResult {
  std::vector<uint32_t> classes;                // one per image
  std::vector<float> scores;                    // images x classes probabilities
  ModelVersion version;                         // what answered
  absl::Duration queue = absl::ZeroDuration();  // arrival to compute start
  absl::Duration compute = absl::ZeroDuration();
  bool deadline_met = false;
};

class InferenceEngine {
 public:
  // `metrics` may be null. Starts the executor thread; the destructor stops and joins it.
  InferenceEngine(const Mlp* model, ComputeToken* token, AdmissionOptions admission,
                  WorkerMetrics* metrics);
  ~InferenceEngine();
  InferenceEngine(const InferenceEngine&) = delete;
  InferenceEngine& operator=(const InferenceEngine&) = delete;

  // Makes `params`, the weights of `version`, the ones new requests use.
  void PublishVersion(ModelVersion version, std::vector<float> params) ABSL_LOCKS_EXCLUDED(mu_);
  // What new requests would be answered with; nullopt before the first version.
  std::optional<ModelVersion> version() const ABSL_LOCKS_EXCLUDED(mu_);
  // The version it serves and its parameters, if that is `version` of `model`;
  // FAILED_PRECONDITION naming what it serves otherwise.
  struct ServedWeights {
    ModelVersion version;
    std::vector<float> params;
  };
  absl::StatusOr<ServedWeights> Parameters(const std::string& model, int64_t version) const
      ABSL_LOCKS_EXCLUDED(mu_);
  const Mlp& model() const { return *model_; }

  // Classifies `images` (n x input_size floats in [0, 1]) before `deadline` with the version
  // it serves now, or refuses at once: UNAVAILABLE before any version exists,
  // FAILED_PRECONDITION when that version is not `wanted`, RESOURCE_EXHAUSTED with the
  // admission estimate when the deadline cannot be met. Blocks until served. Thread-safe.
  absl::StatusOr<InferenceResult> Infer(std::vector<float> images, absl::Time deadline,
                                        const VersionWanted& wanted = {}) ABSL_LOCKS_EXCLUDED(mu_);

  absl::Duration service_per_image() const { return queue_.service_per_image(); }
  // How long a request arriving now would queue (AdmissionQueue::Backlog).
  absl::Duration backlog() const { return queue_.Backlog(); }

 private:
  struct Weights {
    std::vector<float> params;
    ModelVersion version;
  };
  // One admitted request; the executor fills `result` and signals.
  struct Pending {
    std::shared_ptr<const Weights> weights;  // the version admission checked
    std::vector<float> images;
    int count = 0;
    Mutex mu;
    CondVar done_cv;
    bool done ABSL_GUARDED_BY(mu) = false;
    InferenceResult result ABSL_GUARDED_BY(mu);
  };

  void RunExecutor();
  // Computes one request with `weights`; the queue had handed it out.
  InferenceResult Serve(const Weights& weights, const std::vector<float>& images, int count,
                        absl::Time arrival, absl::Time deadline, Mlp::Workspace& workspace);

  const Mlp* const model_;
  ComputeToken* const token_;
  WorkerMetrics* const metrics_;
  AdmissionQueue<std::shared_ptr<Pending>> queue_;

  mutable Mutex mu_;
  std::shared_ptr<const Weights> weights_ ABSL_GUARDED_BY(mu_);

  std::thread executor_;  // last member: started after everything it uses exists
};

}  // namespace cosched::worker
