// File: common/model_config.cc
#include "common/model_config.h"

#include <cmath>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched {

std::vector<int> MlpConfig::LayerSizes(int input_size, int num_classes) const {
  std::vector<int> sizes;
  sizes.push_back(input_size);
  sizes.insert(sizes.end(), hidden_sizes.begin(), hidden_sizes.end());
  sizes.push_back(num_classes);
  return sizes;
}

absl::StatusOr<MlpConfig> ParseMlpConfig(const ConfigNode& section) {
  RETURN_IF_ERROR(section.RejectUnknownKeys({"name", "hidden_sizes"}));
  MlpConfig config;
  RETURN_IF_ERROR(section.Enum("name", "mlp", {"mlp"}).status());
  // A YAML list of widths, e.g. [256, 128]; an empty list means no hidden layer.
  ASSIGN_OR_RETURN(const std::vector<int64_t> widths,
                   section.IntList("hidden_sizes", {256, 128}, 1, kMaxMlpLayerWidth));
  config.hidden_sizes.assign(widths.begin(), widths.end());
  return config;
}

std::optional<ConfigProblem> FindOptimizerProblem(const OptimizerConfig& c) {
  auto finite = [](double v) { return std::isfinite(v); };
  if (!finite(c.learning_rate) || c.learning_rate <= 0) {
    return ConfigProblem{"learning_rate", absl::StrCat(c.learning_rate, " must be > 0")};
  }
  if (!finite(c.momentum) || c.momentum < 0 || c.momentum >= 1) {
    return ConfigProblem{"momentum", absl::StrCat(c.momentum, " must be in [0, 1)")};
  }
  if (c.nesterov && c.momentum == 0) {
    return ConfigProblem{"nesterov", "Nesterov momentum needs momentum > 0"};
  }
  if (!finite(c.beta1) || c.beta1 < 0 || c.beta1 >= 1) {
    return ConfigProblem{"beta1", absl::StrCat(c.beta1, " must be in [0, 1)")};
  }
  if (!finite(c.beta2) || c.beta2 < 0 || c.beta2 >= 1) {
    return ConfigProblem{"beta2", absl::StrCat(c.beta2, " must be in [0, 1)")};
  }
  if (!finite(c.epsilon) || c.epsilon <= 0) {
    return ConfigProblem{"epsilon", absl::StrCat(c.epsilon, " must be > 0")};
  }
  if (!finite(c.weight_decay) || c.weight_decay < 0) {
    return ConfigProblem{"weight_decay", absl::StrCat(c.weight_decay, " must be >= 0")};
  }
  return std::nullopt;
}

absl::StatusOr<OptimizerConfig> ParseOptimizerConfig(const ConfigNode& section) {
  RETURN_IF_ERROR(
      section.RejectUnknownKeys({"name", "learning_rate", "momentum", "nesterov", "beta1", "beta2",
                                 "epsilon", "weight_decay", "schedule"}));
  OptimizerConfig config;
  ASSIGN_OR_RETURN(const std::string name, section.Enum("name", "adam", {"sgd", "adam", "adamw"}));
  if (name == "sgd") {
    config.kind = OptimizerConfig::Kind::kSgd;
  } else if (name == "adamw") {
    config.kind = OptimizerConfig::Kind::kAdamW;
  } else {
    config.kind = OptimizerConfig::Kind::kAdam;
  }
  const double default_lr = config.kind == OptimizerConfig::Kind::kSgd ? 0.01 : 0.001;
  ASSIGN_OR_RETURN(config.learning_rate, section.Double("learning_rate", default_lr));
  ASSIGN_OR_RETURN(config.momentum, section.Double("momentum", config.momentum));
  ASSIGN_OR_RETURN(config.nesterov, section.Bool("nesterov", config.nesterov));
  ASSIGN_OR_RETURN(config.beta1, section.Double("beta1", config.beta1));
  ASSIGN_OR_RETURN(config.beta2, section.Double("beta2", config.beta2));
  ASSIGN_OR_RETURN(config.epsilon, section.Double("epsilon", config.epsilon));
  ASSIGN_OR_RETURN(config.weight_decay, section.Double("weight_decay", config.weight_decay));
  ASSIGN_OR_RETURN(const std::string schedule,
                   section.Enum("schedule", "constant", {"constant", "linear"}));
  config.schedule = schedule == "linear" ? OptimizerConfig::Schedule::kLinear
                                         : OptimizerConfig::Schedule::kConstant;
  if (auto problem = FindOptimizerProblem(config)) {
    return section.Error(problem->field, problem->reason);
  }
  return config;
}

absl::StatusOr<size_t> MlpParameterCount(const std::vector<int>& layer_sizes) {
  if (layer_sizes.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("an MLP has at least 2 layer sizes, not ", layer_sizes.size()));
  }
  size_t count = 0;
  for (size_t l = 0; l < layer_sizes.size(); ++l) {
    if (layer_sizes[l] < 1 || layer_sizes[l] > kMaxMlpLayerWidth) {
      return absl::InvalidArgumentError(absl::StrCat("MLP layer ", l, " has size ", layer_sizes[l],
                                                     "; must be in [1, ", kMaxMlpLayerWidth, "]"));
    }
    if (l > 0) {
      count += static_cast<size_t>(layer_sizes[l - 1] + 1) * static_cast<size_t>(layer_sizes[l]);
    }
  }
  return count;
}

}  // namespace cosched
