// File: worker/inference/inference_engine.h
// InferenceEngine: serves inference on this rank with the latest committed weights.
// Requests are admitted (or refused at once) by an AdmissionQueue and served one at a time,
// earliest deadline first. A request that finds nothing queued or in service is served at
// once on the caller's thread (no hand-off: fewer wake-ups on cores the trainer uses);
// otherwise the executor thread serves it. Serving takes the compute from the trainer
// through the ComputeToken: the trainer stops at its next yield point.
#pragma once

#include <cstdint>
#include <memory>
#include <thread>
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

struct InferenceResult {
  std::vector<uint32_t> classes;  // one per image
  std::vector<float> scores;      // images x classes probabilities
  int64_t weights_step = 0;
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

  // Makes `params` (a committed step's weights) the ones new requests use.
  void PublishWeights(std::vector<float> params, int64_t step) ABSL_LOCKS_EXCLUDED(mu_);

  // Classifies `images` (n x input_size floats in [0, 1]) before `deadline`, or refuses at
  // once: UNAVAILABLE before any weights exist, RESOURCE_EXHAUSTED with the admission
  // estimate when the deadline cannot be met. Blocks until served. Thread-safe.
  absl::StatusOr<InferenceResult> Infer(std::vector<float> images, absl::Time deadline)
      ABSL_LOCKS_EXCLUDED(mu_);

  absl::Duration service_per_image() const { return queue_.service_per_image(); }
  // How long a request arriving now would queue (AdmissionQueue::Backlog).
  absl::Duration backlog() const { return queue_.Backlog(); }

 private:
  struct Weights {
    std::vector<float> params;
    int64_t step;
  };
  // One admitted request; the executor fills `result` and signals.
  struct Pending {
    std::vector<float> images;
    int count = 0;
    Mutex mu;
    CondVar done_cv;
    bool done ABSL_GUARDED_BY(mu) = false;
    InferenceResult result ABSL_GUARDED_BY(mu);
  };

  void RunExecutor();
  // Computes one request with the latest weights; the queue had handed it out.
  InferenceResult Serve(const std::vector<float>& images, int count, absl::Time arrival,
                        absl::Time deadline, Mlp::Workspace& workspace) ABSL_LOCKS_EXCLUDED(mu_);

  const Mlp* const model_;
  ComputeToken* const token_;
  WorkerMetrics* const metrics_;
  AdmissionQueue<std::shared_ptr<Pending>> queue_;

  mutable Mutex mu_;
  std::shared_ptr<const Weights> weights_ ABSL_GUARDED_BY(mu_);

  std::thread executor_;  // last member: started after everything it uses exists
};

}  // namespace cosched::worker
