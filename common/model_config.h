// File: common/model_config.h
// The `model:` and `optimizer:` sections of a job config, as plain data with their parsers.
// The worker builds its Mlp and Optimizer from them (worker/models/); the scheduler checks a
// submitted job with them; neither side needs the other's code. Every error names the file,
// the line, the field and the reason.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/config.h"

namespace cosched {

// The widest layer a model may have (hidden sizes in a config, layer sizes of an Mlp).
inline constexpr int kMaxMlpLayerWidth = 1 << 20;

// The `model:` section of a job config:
//   model:
//     name: mlp                  # the only model so far
//     hidden_sizes: [256, 128]   # hidden layer widths; [] for no hidden layer
// The input size and class count come from the dataset (784 and 10 for Fashion-MNIST).
struct MlpConfig {
  std::vector<int> hidden_sizes = {256, 128};

  // {input_size, hidden_sizes..., num_classes}.
  std::vector<int> LayerSizes(int input_size, int num_classes) const;
};

absl::StatusOr<MlpConfig> ParseMlpConfig(const ConfigNode& section);

// How many parameters (weights and biases) an MLP of `layer_sizes` has: what a peer's weights
// must hold. INVALID_ARGUMENT for fewer than 2 sizes, or a size outside [1,
// kMaxMlpLayerWidth].
absl::StatusOr<size_t> MlpParameterCount(const std::vector<int>& layer_sizes);

// The `optimizer:` section of a job config:
//   optimizer:
//     name: adam            # sgd | adam | adamw (adamw: decoupled weight decay)
//     learning_rate: 0.001  # default 0.001 for adam/adamw, 0.01 for sgd; must be > 0
//     momentum: 0.9         # sgd, in [0, 1); default 0.9
//     nesterov: false       # sgd; needs momentum > 0
//     beta1: 0.9            # adam, in [0, 1)
//     beta2: 0.999          # adam, in [0, 1)
//     epsilon: 1e-8         # adam, > 0
//     weight_decay: 0       # >= 0; sgd/adam: L2 added to the gradient; adamw: decoupled
//     schedule: constant    # or linear: decays learning_rate to 0 over the planned training
// Fields of the other optimizers are accepted (and validated) but unused.
struct OptimizerConfig {
  enum class Kind { kSgd, kAdam, kAdamW };
  Kind kind = Kind::kAdam;
  double learning_rate = 0.001;
  double momentum = 0.9;
  bool nesterov = false;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  double weight_decay = 0.0;
  enum class Schedule { kConstant, kLinear };
  Schedule schedule = Schedule::kConstant;
};

absl::StatusOr<OptimizerConfig> ParseOptimizerConfig(const ConfigNode& section);

// A field of a config whose value cannot be used, and why ("0 must be > 0").
struct ConfigProblem {
  std::string field;
  std::string reason;
};

// The first optimizer field with a value the optimizers cannot run with, or nullopt.
// ParseOptimizerConfig refuses such a section; MakeOptimizer refuses such a config.
std::optional<ConfigProblem> FindOptimizerProblem(const OptimizerConfig& config);

}  // namespace cosched
