// File: worker/edge/outer_round.h
// An outer round of the edge tier, as the job's aggregator closes it (DiLoCo; OpenDiLoCo and
// torchft's DiLoCo do the same). Each replica, the data-center members together or one
// vehicle, started the round from the global parameters, trained its inner steps, and sent its
// pseudo-gradient: parameters at the round's start minus its parameters now. The aggregator
// checks every contribution, averages the accepted ones weighted by the samples each trained,
// and lets the outer optimizer (SGD with Nesterov momentum) step the global parameters with
// that average as the gradient.
//
// With one inner step of plain SGD, outer learning rate 1 and no momentum, a round is exactly
// one synchronous data-parallel step: each pseudo-gradient is lr * (its mean gradient), and
// their sample-weighted mean is lr * (the mean gradient over every sample).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/edge_config.h"
#include "worker/models/optimizer.h"

namespace cosched::worker::edge {

struct Contribution {
  std::string replica;  // a vehicle's node id, or "datacenter" for the synchronous tier
  int64_t samples = 0;  // samples it trained in the round
  std::vector<float> pseudo_gradient;
};

// Why a contribution was left out; `reason` is a metric label.
struct Rejection {
  std::string replica;
  std::string reason;  // "wrong_size", "no_samples", "not_finite", "norm_outlier"
  std::string detail;  // for the event a person reads
};

struct RoundAverage {
  std::vector<std::string> accepted;
  std::vector<Rejection> rejected;
  int64_t samples = 0;                      // over the accepted contributions
  std::vector<float> mean_pseudo_gradient;  // zero when nothing was accepted
};

// Checks `contributions` and averages the accepted ones, weighted by samples. A contribution
// is rejected when it has another size than `num_params`, no samples, a NaN or infinite
// value, or a scaled norm above `max_norm_ratio` times the median scaled norm of the round's
// other contributions (a replica that diverged, or a poisoned one; with no others there is
// nothing to compare with). The scaled norm is the L2 norm over the square root of the
// samples trained: replicas train different numbers of steps (faster ones more), and a
// pseudo-gradient grows between that root (noisy steps) and linearly (steps that agree), so
// an honest replica that trained 16x more stays within 4x of the others. Sums are taken in
// double, so the order of contributions barely matters.
RoundAverage AverageContributions(absl::Span<const Contribution> contributions, size_t num_params,
                                  double max_norm_ratio);

// The outer optimizer of `edge`: SGD on the pseudo-gradient with the outer learning rate and
// Nesterov momentum (plain SGD when the momentum is 0).
absl::StatusOr<std::unique_ptr<Optimizer>> MakeOuterOptimizer(const EdgeConfig& edge,
                                                              size_t num_params);

// Closes a round: averages `contributions` and, if any was accepted, steps `global` with the
// outer optimizer. Returns the average (what was accepted and rejected, and why).
RoundAverage CloseRound(absl::Span<const Contribution> contributions, double max_norm_ratio,
                        Optimizer& outer, absl::Span<float> global);

}  // namespace cosched::worker::edge
