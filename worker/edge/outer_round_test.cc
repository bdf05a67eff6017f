#include "worker/edge/outer_round.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "worker/models/mlp.h"

namespace cosched::worker::edge {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// n random images and labels for an MLP with `inputs` inputs and `classes` classes.
struct Batch {
  std::vector<float> images;
  std::vector<uint8_t> labels;
  int n = 0;
};

Batch RandomBatch(int n, int inputs, int classes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> pixel(0, 1);
  Batch batch;
  batch.n = n;
  for (int i = 0; i < n * inputs; ++i) batch.images.push_back(pixel(rng));
  for (int i = 0; i < n; ++i) batch.labels.push_back(static_cast<uint8_t>(rng() % classes));
  return batch;
}

std::vector<float> GradientSum(const Mlp& mlp, const std::vector<float>& params,
                               const Batch& batch) {
  std::vector<float> grads(params.size(), 0.0f);
  Mlp::Workspace ws;
  mlp.AccumulateGradients(params, batch.images.data(), batch.labels.data(), batch.n,
                          absl::MakeSpan(grads), ws);
  return grads;
}

std::unique_ptr<Optimizer> Sgd(double learning_rate, size_t n) {
  OptimizerConfig config;
  config.kind = OptimizerConfig::Kind::kSgd;
  config.learning_rate = learning_rate;
  config.momentum = 0;
  return *MakeOptimizer(config, n);
}

// H = 1 inner step of SGD, no compression, outer learning rate 1, no momentum: the outer round
// is one synchronous data-parallel step over both replicas' samples.
TEST(OuterRoundTest, OneInnerStepAndAPlainOuterStepEqualOneSynchronousStep) {
  auto mlp = Mlp::Create({20, 12, 4});
  ASSERT_TRUE(mlp.ok());
  std::vector<float> start(mlp->num_parameters());
  mlp->InitParameters(absl::MakeSpan(start), 3);
  const Batch a = RandomBatch(5, 20, 4, 1), b = RandomBatch(11, 20, 4, 2);
  const std::vector<float> sum_a = GradientSum(*mlp, start, a);
  const std::vector<float> sum_b = GradientSum(*mlp, start, b);
  const double inner_lr = 0.1;

  // Synchronous: the mean gradient over all 16 samples, one step.
  std::vector<float> synchronous = start, mean(start.size());
  for (size_t p = 0; p < mean.size(); ++p) mean[p] = (sum_a[p] + sum_b[p]) / 16.0f;
  Sgd(inner_lr, start.size())->Step(absl::MakeSpan(synchronous), mean);

  // Edge tier: each replica steps on its own mean gradient and sends start - now.
  std::vector<Contribution> contributions;
  for (const auto& [name, sum, n] : {std::tuple{"v-1", &sum_a, 5}, {"v-2", &sum_b, 11}}) {
    std::vector<float> local = start, own_mean(start.size());
    for (size_t p = 0; p < own_mean.size(); ++p) own_mean[p] = (*sum)[p] / static_cast<float>(n);
    Sgd(inner_lr, start.size())->Step(absl::MakeSpan(local), own_mean);
    Contribution c{name, n, std::vector<float>(start.size())};
    for (size_t p = 0; p < start.size(); ++p) c.pseudo_gradient[p] = start[p] - local[p];
    contributions.push_back(std::move(c));
  }
  EdgeConfig edge;
  edge.outer_learning_rate = 1;
  edge.outer_momentum = 0;
  auto outer = MakeOuterOptimizer(edge, start.size());
  ASSERT_TRUE(outer.ok()) << outer.status();
  std::vector<float> global = start;
  const RoundAverage round = CloseRound(contributions, 10, **outer, absl::MakeSpan(global));
  EXPECT_THAT(round.accepted, ElementsAre("v-1", "v-2"));
  EXPECT_EQ(round.samples, 16);
  for (size_t p = 0; p < global.size(); ++p) {
    EXPECT_NEAR(global[p], synchronous[p], 1e-6) << "parameter " << p;
  }
}

TEST(OuterRoundTest, AveragesAreWeightedBySamples) {
  const std::vector<Contribution> contributions = {{"a", 1, {1.0f, 0.0f}}, {"b", 3, {0.0f, 4.0f}}};
  const RoundAverage round = AverageContributions(contributions, 2, 10);
  EXPECT_THAT(round.mean_pseudo_gradient, ElementsAre(0.25f, 3.0f));
  EXPECT_EQ(round.samples, 4);
}

// A poisoned contribution (NaN, or scaled a million times) is rejected with the reason and
// the round completes with the others.
TEST(OuterRoundTest, PoisonedContributionsAreRejectedAndTheRoundCompletes) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  const size_t n = 300;
  std::vector<Contribution> contributions;
  for (const char* name : {"v-1", "v-2", "v-3"}) {
    Contribution c{name, 64, std::vector<float>(n)};
    for (float& v : c.pseudo_gradient) v = 0.01f * normal(rng);
    contributions.push_back(std::move(c));
  }
  const RoundAverage honest = AverageContributions(contributions, n, 10);
  Contribution nan = contributions[0];
  nan.replica = "v-nan";
  nan.pseudo_gradient[17] = std::numeric_limits<float>::quiet_NaN();
  Contribution scaled = contributions[1];
  scaled.replica = "v-huge";
  for (float& v : scaled.pseudo_gradient) v *= 1e6f;
  Contribution empty{"v-idle", 0, std::vector<float>(n, 0.0f)};
  Contribution short_one{"v-short", 64, std::vector<float>(n - 1, 0.0f)};
  contributions.insert(contributions.end(), {nan, scaled, empty, short_one});

  std::vector<float> global(n, 1.0f);
  auto outer = MakeOuterOptimizer(EdgeConfig(), n);
  ASSERT_TRUE(outer.ok());
  const RoundAverage round = CloseRound(contributions, 10, **outer, absl::MakeSpan(global));
  EXPECT_THAT(round.accepted, ElementsAre("v-1", "v-2", "v-3"));
  ASSERT_EQ(round.rejected.size(), 4u);
  std::map<std::string, std::string> reasons;
  for (const Rejection& r : round.rejected) reasons[r.replica] = r.reason;
  EXPECT_EQ(reasons["v-nan"], "not_finite");
  EXPECT_EQ(reasons["v-huge"], "norm_outlier");
  EXPECT_EQ(reasons["v-idle"], "no_samples");
  EXPECT_EQ(reasons["v-short"], "wrong_size");
  for (const Rejection& r : round.rejected) {
    if (r.replica == "v-huge") {
      EXPECT_THAT(r.detail, HasSubstr("times the median"));
    }
  }
  EXPECT_EQ(round.mean_pseudo_gradient, honest.mean_pseudo_gradient);
  // The outer step used the honest average: (Nesterov, first step) lr * (1 + momentum) * g.
  for (size_t p = 0; p < n; ++p) {
    EXPECT_NEAR(global[p], 1.0f - 0.7f * 1.9f * honest.mean_pseudo_gradient[p], 1e-6);
  }
}

TEST(OuterRoundTest, ARoundWithNothingAcceptedLeavesTheParametersAlone) {
  std::vector<float> global = {1, 2};
  auto outer = MakeOuterOptimizer(EdgeConfig(), 2);
  ASSERT_TRUE(outer.ok());
  const RoundAverage round = CloseRound({{"v-1", 0, {1, 1}}}, 10, **outer, absl::MakeSpan(global));
  EXPECT_TRUE(round.accepted.empty());
  EXPECT_EQ(global, (std::vector<float>{1, 2}));
  EXPECT_EQ((*outer)->step_count(), 0);
}

}  // namespace
}  // namespace cosched::worker::edge
