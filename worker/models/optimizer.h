// File: worker/models/optimizer.h
// Optimizer: updates a flat float parameter buffer from mean gradients. All optimizer state
// lives in one float vector (state()) plus a step count, so a checkpoint or the broadcast that
// brings a new member up to date moves it in one piece. Implementations: SGD with momentum
// (optionally Nesterov) and Adam / AdamW, with PyTorch's update rules. Their settings, the
// `optimizer:` section of a job (OptimizerConfig), are part of the job spec in
// common/model_config.h.
//
// Determinism: Step is a plain element-wise loop in float with a fixed operation order (the
// library is built with -ffp-contract=off, so no fused multiply-adds are introduced); the same
// params, gradients, state and step count give bit-identical results on every rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/model_config.h"

namespace cosched::worker {

class Optimizer {
 public:
  virtual ~Optimizer() = default;

  // One update. params and mean_grads have the size given to MakeOptimizer. `mean_grads` is
  // the MEAN gradient over the step's samples (sum of per-sample gradients / sample count).
  virtual void Step(absl::Span<float> params, absl::Span<const float> mean_grads) = 0;

  // All state in one vector (SGD: the momentum buffer, empty when momentum is 0; Adam: first
  // moments then second moments, 2 * num_params). Its size is fixed; callers may overwrite the
  // contents (restore from a checkpoint or a broadcast) but must not resize it.
  std::vector<float>& state() { return state_; }
  const std::vector<float>& state() const { return state_; }
  // Steps taken so far (Adam's bias correction uses it); restore it along with state().
  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t steps) { step_count_ = steps; }

  // The learning rate of the next steps; starts at the configured one. A schedule (see
  // ScheduledLearningRate) sets it before each Step. Must be finite and >= 0 (checked).
  double learning_rate() const { return learning_rate_; }
  void set_learning_rate(double learning_rate);

  virtual std::string name() const = 0;
  size_t num_parameters() const { return num_parameters_; }

 protected:
  Optimizer(size_t num_parameters, size_t state_size, double learning_rate)
      : num_parameters_(num_parameters), state_(state_size, 0.0f), learning_rate_(learning_rate) {}

  size_t num_parameters_;
  std::vector<float> state_;
  int64_t step_count_ = 0;
  double learning_rate_;
};

// The learning rate at `progress`, the fraction of the planned training done (samples
// processed / (epochs * dataset size)), clamped to [0, 1]: constant, or linear decay to 0.
// Only IEEE arithmetic, so ranks that agree on `progress` agree on the rate bit for bit.
double ScheduledLearningRate(const OptimizerConfig& config, double progress);

// Fails (InvalidArgument) on values ParseOptimizerConfig (common/model_config.h) would reject.
absl::StatusOr<std::unique_ptr<Optimizer>> MakeOptimizer(const OptimizerConfig& config,
                                                         size_t num_params);

}  // namespace cosched::worker
