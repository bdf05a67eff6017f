// File: worker/models/optimizer.cc
// SGD (momentum, Nesterov) and Adam/AdamW following PyTorch's update rules, and the optimizer
// factory (the `optimizer:` config parser is common/model_config.cc). Arithmetic is float, element
// by element, in a fixed order; Adam's bias corrections use exponentiation by squaring (IEEE
// multiplications only) rather than libm's pow, so every rank and machine computes the same
// factors.
#include "worker/models/optimizer.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace cosched::worker {
namespace {

// base^exp for exp >= 0 by repeated squaring: only IEEE multiplications, so reproducible.
double PowInt(double base, int64_t exp) {
  double result = 1.0;
  while (exp > 0) {
    if (exp & 1) result *= base;
    base *= base;
    exp >>= 1;
  }
  return result;
}

void CheckSizes(size_t expected, absl::Span<float> params, absl::Span<const float> grads) {
  COSCHED_CHECK(params.size() == expected && grads.size() == expected,
                "optimizer built for {} parameters got params {} and gradients {}", expected,
                params.size(), grads.size());
}

class SgdOptimizer final : public Optimizer {
 public:
  SgdOptimizer(const OptimizerConfig& config, size_t num_params)
      : Optimizer(num_params, config.momentum > 0 ? num_params : 0, config.learning_rate),
        momentum_(static_cast<float>(config.momentum)),
        weight_decay_(static_cast<float>(config.weight_decay)),
        nesterov_(config.nesterov) {}

  void Step(absl::Span<float> params, absl::Span<const float> mean_grads) override {
    CheckSizes(num_parameters_, params, mean_grads);
    const float lr = static_cast<float>(learning_rate_);
    float* p = params.data();
    const float* g = mean_grads.data();
    const size_t n = num_parameters_;
    if (momentum_ == 0.0f) {
      for (size_t i = 0; i < n; ++i) {
        const float grad = g[i] + weight_decay_ * p[i];
        p[i] = p[i] - lr * grad;
      }
    } else {
      float* buf = state_.data();
      for (size_t i = 0; i < n; ++i) {
        const float grad = g[i] + weight_decay_ * p[i];
        // The buffer starts at zero, so the first step sets it to the gradient (as PyTorch).
        const float v = momentum_ * buf[i] + grad;
        buf[i] = v;
        const float update = nesterov_ ? grad + momentum_ * v : v;
        p[i] = p[i] - lr * update;
      }
    }
    ++step_count_;
  }

  std::string name() const override { return "sgd"; }

 private:
  const float momentum_;
  const float weight_decay_;
  const bool nesterov_;
};

class AdamOptimizer final : public Optimizer {
 public:
  AdamOptimizer(const OptimizerConfig& config, size_t num_params, bool decoupled)
      : Optimizer(num_params, 2 * num_params, config.learning_rate),
        beta1_(config.beta1),
        beta2_(config.beta2),
        epsilon_(static_cast<float>(config.epsilon)),
        weight_decay_(static_cast<float>(config.weight_decay)),
        decoupled_(decoupled) {}

  void Step(absl::Span<float> params, absl::Span<const float> mean_grads) override {
    CheckSizes(num_parameters_, params, mean_grads);
    const int64_t t = step_count_ + 1;
    const double correction1 = 1.0 - PowInt(beta1_, t);
    const double correction2 = 1.0 - PowInt(beta2_, t);
    const float step_size = static_cast<float>(learning_rate_ / correction1);
    const float sqrt_correction2 = static_cast<float>(std::sqrt(correction2));
    const float b1 = static_cast<float>(beta1_);
    const float b2 = static_cast<float>(beta2_);
    const float one_minus_b1 = static_cast<float>(1.0 - beta1_);
    const float one_minus_b2 = static_cast<float>(1.0 - beta2_);
    const float l2 = decoupled_ ? 0.0f : weight_decay_;
    const float shrink =
        decoupled_ ? static_cast<float>(1.0 - learning_rate_ * weight_decay_) : 1.0f;

    float* p = params.data();
    const float* g = mean_grads.data();
    const size_t n = num_parameters_;
    float* m = state_.data();
    float* v = state_.data() + n;
    for (size_t i = 0; i < n; ++i) {
      const float grad = g[i] + l2 * p[i];
      const float mi = b1 * m[i] + one_minus_b1 * grad;
      const float vi = b2 * v[i] + one_minus_b2 * (grad * grad);
      m[i] = mi;
      v[i] = vi;
      const float denom = std::sqrt(vi) / sqrt_correction2 + epsilon_;
      p[i] = shrink * p[i] - step_size * (mi / denom);
    }
    ++step_count_;
  }

  std::string name() const override { return decoupled_ ? "adamw" : "adam"; }

 private:
  const double beta1_;
  const double beta2_;
  const float epsilon_;
  const float weight_decay_;
  const bool decoupled_;
};

}  // namespace

void Optimizer::set_learning_rate(double learning_rate) {
  COSCHED_CHECK(std::isfinite(learning_rate) && learning_rate >= 0,
                "learning rate {} must be finite and >= 0", learning_rate);
  learning_rate_ = learning_rate;
}

double ScheduledLearningRate(const OptimizerConfig& config, double progress) {
  switch (config.schedule) {
    case OptimizerConfig::Schedule::kConstant:
      return config.learning_rate;
    case OptimizerConfig::Schedule::kLinear: {
      const double done = std::isnan(progress) ? 0.0 : std::clamp(progress, 0.0, 1.0);
      return config.learning_rate * (1.0 - done);
    }
  }
  return config.learning_rate;
}

absl::StatusOr<std::unique_ptr<Optimizer>> MakeOptimizer(const OptimizerConfig& config,
                                                         size_t num_params) {
  if (auto problem = FindOptimizerProblem(config)) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer field '", problem->field, "': ", problem->reason));
  }
  switch (config.kind) {
    case OptimizerConfig::Kind::kSgd:
      return std::unique_ptr<Optimizer>(new SgdOptimizer(config, num_params));
    case OptimizerConfig::Kind::kAdam:
      return std::unique_ptr<Optimizer>(new AdamOptimizer(config, num_params, false));
    case OptimizerConfig::Kind::kAdamW:
      return std::unique_ptr<Optimizer>(new AdamOptimizer(config, num_params, true));
  }
  return absl::InvalidArgumentError("unknown optimizer kind");
}

}  // namespace cosched::worker
