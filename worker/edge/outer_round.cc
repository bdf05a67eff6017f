// File: worker/edge/outer_round.cc
#include "worker/edge/outer_round.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cosched::worker::edge {
namespace {

// L2 norm in double; NaN when any value is NaN or infinite.
double Norm(const std::vector<float>& values) {
  double sum = 0;
  for (float v : values) {
    if (!std::isfinite(v)) return std::nan("");
    sum += static_cast<double>(v) * v;
  }
  return std::sqrt(sum);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

RoundAverage AverageContributions(absl::Span<const Contribution> contributions, size_t num_params,
                                  double max_norm_ratio) {
  RoundAverage average;
  average.mean_pseudo_gradient.assign(num_params, 0.0f);
  // First the checks that need no comparison; the norms of what passes them are compared.
  std::vector<const Contribution*> sound;
  std::vector<double> norms;
  for (const Contribution& c : contributions) {
    if (c.pseudo_gradient.size() != num_params) {
      average.rejected.push_back(
          {c.replica, "wrong_size",
           absl::StrCat(c.pseudo_gradient.size(), " values; the model has ", num_params)});
    } else if (c.samples <= 0) {
      average.rejected.push_back(
          {c.replica, "no_samples", absl::StrCat(c.samples, " samples trained")});
    } else if (const double norm = Norm(c.pseudo_gradient); std::isnan(norm)) {
      average.rejected.push_back({c.replica, "not_finite", "a value is NaN or infinite"});
    } else {
      sound.push_back(&c);
      norms.push_back(norm / std::sqrt(static_cast<double>(c.samples)));
    }
  }
  std::vector<double> sum(num_params, 0.0);
  for (size_t i = 0; i < sound.size(); ++i) {
    if (sound.size() > 1) {
      std::vector<double> others = norms;
      others.erase(others.begin() + static_cast<std::ptrdiff_t>(i));
      const double median = Median(std::move(others));
      if (norms[i] > max_norm_ratio * median) {
        average.rejected.push_back(
            {sound[i]->replica, "norm_outlier",
             absl::StrFormat("norm per root sample %.4g is more than %g times the median %.4g "
                             "of the others",
                             norms[i], max_norm_ratio, median)});
        continue;
      }
    }
    const Contribution& c = *sound[i];
    const double weight = static_cast<double>(c.samples);
    for (size_t p = 0; p < num_params; ++p) sum[p] += weight * c.pseudo_gradient[p];
    average.accepted.push_back(c.replica);
    average.samples += c.samples;
  }
  if (average.samples > 0) {
    const double total = static_cast<double>(average.samples);
    for (size_t p = 0; p < num_params; ++p) {
      average.mean_pseudo_gradient[p] = static_cast<float>(sum[p] / total);
    }
  }
  return average;
}

absl::StatusOr<std::unique_ptr<Optimizer>> MakeOuterOptimizer(const EdgeConfig& edge,
                                                              size_t num_params) {
  OptimizerConfig outer;
  outer.kind = OptimizerConfig::Kind::kSgd;
  outer.learning_rate = edge.outer_learning_rate;
  outer.momentum = edge.outer_momentum;
  outer.nesterov = edge.outer_momentum > 0;
  return MakeOptimizer(outer, num_params);
}

RoundAverage CloseRound(absl::Span<const Contribution> contributions, double max_norm_ratio,
                        Optimizer& outer, absl::Span<float> global) {
  RoundAverage average = AverageContributions(contributions, global.size(), max_norm_ratio);
  if (!average.accepted.empty()) outer.Step(global, average.mean_pseudo_gradient);
  return average;
}

}  // namespace cosched::worker::edge
