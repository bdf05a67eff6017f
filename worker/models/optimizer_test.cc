// File: worker/models/optimizer_test.cc
// Tests for the optimizers: hand-computed updates for SGD (plain, momentum, Nesterov, weight
// decay) and Adam/AdamW, state layout and restore, bit-determinism, the learning-rate
// schedule, and the factory refusing bad configs (the parser's field errors are tested in
// common/model_config_test.cc).
#include "worker/models/optimizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

namespace cosched::worker {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Optimizer> Make(const OptimizerConfig& config, size_t n) {
  auto optimizer = MakeOptimizer(config, n);
  EXPECT_TRUE(optimizer.ok()) << optimizer.status();
  return optimizer.ok() ? std::move(*optimizer) : nullptr;
}

OptimizerConfig Sgd(double lr, double momentum) {
  OptimizerConfig config;
  config.kind = OptimizerConfig::Kind::kSgd;
  config.learning_rate = lr;
  config.momentum = momentum;
  return config;
}

// Values below are powers of two and their sums, so the hand-computed results are exact.
TEST(SgdTest, PlainSteps) {
  auto opt = Make(Sgd(0.5, 0.0), 2);
  EXPECT_EQ(opt->name(), "sgd");
  EXPECT_TRUE(opt->state().empty());
  std::vector<float> p = {1.0f, -2.0f};
  const std::vector<float> g = {0.5f, -1.0f};
  opt->Step(absl::MakeSpan(p), g);  // p -= 0.5 g
  EXPECT_EQ(p, (std::vector<float>{0.75f, -1.5f}));
  opt->Step(absl::MakeSpan(p), g);
  EXPECT_EQ(p, (std::vector<float>{0.5f, -1.0f}));
  EXPECT_EQ(opt->step_count(), 2);
}

TEST(SgdTest, MomentumSteps) {
  auto opt = Make(Sgd(0.5, 0.5), 1);
  ASSERT_EQ(opt->state().size(), 1u);
  std::vector<float> p = {1.0f};
  const std::vector<float> g = {1.0f};
  // v1 = 1, p = 1 - 0.5 = 0.5; v2 = 0.5 + 1 = 1.5, p = 0.5 - 0.75 = -0.25;
  // v3 = 0.75 + 1 = 1.75, p = -0.25 - 0.875 = -1.125.
  opt->Step(absl::MakeSpan(p), g);
  EXPECT_EQ(p[0], 0.5f);
  EXPECT_EQ(opt->state()[0], 1.0f);
  opt->Step(absl::MakeSpan(p), g);
  EXPECT_EQ(p[0], -0.25f);
  EXPECT_EQ(opt->state()[0], 1.5f);
  opt->Step(absl::MakeSpan(p), g);
  EXPECT_EQ(p[0], -1.125f);
  EXPECT_EQ(opt->state()[0], 1.75f);
}

TEST(SgdTest, NesterovSteps) {
  OptimizerConfig config = Sgd(0.5, 0.5);
  config.nesterov = true;
  auto opt = Make(config, 1);
  std::vector<float> p = {1.0f};
  const std::vector<float> g = {1.0f};
  // update = g + mu * v: v1 = 1, u = 1.5, p = 0.25; v2 = 1.5, u = 1.75, p = -0.625;
  // v3 = 1.75, u = 1.875, p = -1.5625.
  opt->Step(absl::MakeSpan(p), g);
  EXPECT_EQ(p[0], 0.25f);
  opt->Step(absl::MakeSpan(p), g);
  EXPECT_EQ(p[0], -0.625f);
  opt->Step(absl::MakeSpan(p), g);
  EXPECT_EQ(p[0], -1.5625f);
}

TEST(SgdTest, WeightDecayIsAddedToTheGradient) {
  OptimizerConfig config = Sgd(0.5, 0.0);
  config.weight_decay = 0.5;
  auto opt = Make(config, 1);
  std::vector<float> p = {1.0f};
  const std::vector<float> g = {0.0f};
  // grad = 0.5 p: p *= 0.75 each step.
  opt->Step(absl::MakeSpan(p), g);
  EXPECT_EQ(p[0], 0.75f);
  opt->Step(absl::MakeSpan(p), g);
  EXPECT_EQ(p[0], 0.5625f);
  opt->Step(absl::MakeSpan(p), g);
  EXPECT_EQ(p[0], 0.421875f);
}

OptimizerConfig Adam(double lr) {
  OptimizerConfig config;
  config.kind = OptimizerConfig::Kind::kAdam;
  config.learning_rate = lr;
  return config;
}

TEST(AdamTest, ConstantGradientMovesByLearningRate) {
  // With a constant gradient the bias-corrected moments are exactly g and g^2, so every step
  // moves each parameter by lr * g / (|g| + eps); a zero gradient moves nothing.
  auto opt = Make(Adam(0.01), 3);
  EXPECT_EQ(opt->name(), "adam");
  ASSERT_EQ(opt->state().size(), 6u);
  std::vector<float> p = {1.0f, 1.0f, 1.0f};
  const std::vector<float> g = {2.0f, -0.5f, 0.0f};
  for (int t = 1; t <= 3; ++t) {
    opt->Step(absl::MakeSpan(p), g);
    EXPECT_NEAR(p[0], 1.0 - 0.01 * t, 1e-6) << t;
    EXPECT_NEAR(p[1], 1.0 + 0.01 * t, 1e-6) << t;
    EXPECT_EQ(p[2], 1.0f) << t;
  }
  EXPECT_EQ(opt->step_count(), 3);
  // State layout: first moments, then second moments; m3 = (1 - 0.9^3) g, v3 = (1 - 0.999^3) g^2.
  EXPECT_NEAR(opt->state()[0], 0.271 * 2.0, 1e-6);
  EXPECT_NEAR(opt->state()[1], 0.271 * -0.5, 1e-6);
  EXPECT_NEAR(opt->state()[3], 0.002997001 * 4.0, 1e-8);
  EXPECT_NEAR(opt->state()[4], 0.002997001 * 0.25, 1e-8);
}

TEST(AdamTest, HandComputedSteps) {
  // lr 0.1, beta1 0.9, beta2 0.999, gradients 1, -1, 1; p0 = 1.
  // t=1: m = 0.1, v = 0.001; m^ = 1, v^ = 1; p = 1 - 0.1 = 0.9.
  // t=2: m = -0.01, v = 0.001999; m^ = -0.01 / 0.19 = -0.0526316, v^ = 0.001999 / 0.001999 = 1;
  //      p = 0.9 + 0.00526316 = 0.9052632.
  // t=3: m = 0.091, v = 0.002997001; m^ = 0.091 / 0.271 = 0.3357934, v^ = 1;
  //      p = 0.9052632 - 0.03357934 = 0.8716838.
  auto opt = Make(Adam(0.1), 1);
  std::vector<float> p = {1.0f};
  opt->Step(absl::MakeSpan(p), std::vector<float>{1.0f});
  EXPECT_NEAR(p[0], 0.9, 1e-6);
  opt->Step(absl::MakeSpan(p), std::vector<float>{-1.0f});
  EXPECT_NEAR(p[0], 0.9052632, 1e-6);
  opt->Step(absl::MakeSpan(p), std::vector<float>{1.0f});
  EXPECT_NEAR(p[0], 0.8716838, 1e-6);
}

TEST(AdamTest, WeightDecayCoupledAndDecoupled) {
  // Adam: L2 joins the gradient, so a zero gradient with weight decay still moves by ~lr.
  OptimizerConfig adam = Adam(0.1);
  adam.weight_decay = 0.5;
  auto coupled = Make(adam, 1);
  std::vector<float> p = {1.0f};
  coupled->Step(absl::MakeSpan(p), std::vector<float>{0.0f});
  EXPECT_NEAR(p[0], 0.9, 1e-6);

  // AdamW: the parameter shrinks by (1 - lr * wd) and the zero gradient adds nothing.
  OptimizerConfig adamw = Adam(0.1);
  adamw.kind = OptimizerConfig::Kind::kAdamW;
  adamw.weight_decay = 0.1;
  auto decoupled = Make(adamw, 1);
  EXPECT_EQ(decoupled->name(), "adamw");
  std::vector<float> q = {1.0f};
  decoupled->Step(absl::MakeSpan(q), std::vector<float>{0.0f});
  EXPECT_NEAR(q[0], 0.99, 1e-7);
  decoupled->Step(absl::MakeSpan(q), std::vector<float>{0.0f});
  EXPECT_NEAR(q[0], 0.9801, 1e-7);
}

// Same inputs, bit-identical outputs; an optimizer restored from state() and step_count()
// continues exactly like the original (checkpoints, new members after a generation change).
TEST(OptimizerTest, DeterministicAndRestorable) {
  for (OptimizerConfig config : {Adam(0.003), Sgd(0.05, 0.9)}) {
    const size_t n = 1000;
    std::vector<float> grads(n);
    std::vector<float> p1(n), p2(n);
    for (size_t i = 0; i < n; ++i) p1[i] = p2[i] = 0.001f * static_cast<float>(i) - 0.3f;
    auto a = Make(config, n);
    auto b = Make(config, n);
    for (int step = 0; step < 5; ++step) {
      for (size_t i = 0; i < n; ++i) {
        grads[i] = 0.01f * static_cast<float>((i * 7 + step * 13) % 17) - 0.08f;
      }
      a->Step(absl::MakeSpan(p1), grads);
      b->Step(absl::MakeSpan(p2), grads);
    }
    EXPECT_EQ(0, std::memcmp(p1.data(), p2.data(), n * sizeof(float))) << a->name();

    auto restored = Make(config, n);
    ASSERT_EQ(restored->state().size(), a->state().size());
    restored->state() = a->state();
    restored->set_step_count(a->step_count());
    std::vector<float> p3 = p1;
    a->Step(absl::MakeSpan(p1), grads);
    restored->Step(absl::MakeSpan(p3), grads);
    EXPECT_EQ(0, std::memcmp(p1.data(), p3.data(), n * sizeof(float))) << a->name();
  }
}

absl::StatusOr<OptimizerConfig> ParseYaml(const std::string& yaml) {
  auto doc = ConfigNode::LoadString(yaml, "job.yaml");
  if (!doc.ok()) return doc.status();
  auto section = doc->Map("optimizer");
  if (!section.ok()) return section.status();
  return ParseOptimizerConfig(*section);
}

TEST(OptimizerConfigTest, ParsesTheDocumentedSection) {
  auto config = ParseYaml(
      "optimizer:\n"
      "  name: adam        # or sgd\n"
      "  learning_rate: 0.001\n"
      "  momentum: 0.9     # sgd\n"
      "  beta1: 0.9\n"
      "  beta2: 0.999\n"
      "  epsilon: 1e-8\n"
      "  weight_decay: 0\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kind, OptimizerConfig::Kind::kAdam);
  EXPECT_EQ(config->learning_rate, 0.001);
  EXPECT_EQ(config->epsilon, 1e-8);
  EXPECT_EQ(config->beta2, 0.999);
  EXPECT_EQ(config->weight_decay, 0.0);

  auto sgd = ParseYaml("optimizer:\n  name: sgd\n  nesterov: true\n  weight_decay: 5e-4\n");
  ASSERT_TRUE(sgd.ok()) << sgd.status();
  EXPECT_EQ(sgd->kind, OptimizerConfig::Kind::kSgd);
  EXPECT_EQ(sgd->learning_rate, 0.01);  // the SGD default
  EXPECT_EQ(sgd->momentum, 0.9);
  EXPECT_TRUE(sgd->nesterov);
  auto made = MakeOptimizer(*sgd, 10);
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->name(), "sgd");
  EXPECT_EQ((*made)->state().size(), 10u);

  auto defaults = ParseYaml("other: 1\n");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->kind, OptimizerConfig::Kind::kAdam);
  EXPECT_EQ(defaults->learning_rate, 0.001);
}

TEST(OptimizerConfigTest, LinearScheduleDecaysToZero) {
  auto config = ParseYaml("optimizer:\n  learning_rate: 0.5\n  schedule: linear\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(ScheduledLearningRate(*config, 0.0), 0.5);
  EXPECT_EQ(ScheduledLearningRate(*config, 0.25), 0.375);
  EXPECT_EQ(ScheduledLearningRate(*config, 1.0), 0.0);
  EXPECT_EQ(ScheduledLearningRate(*config, 3.0), 0.0);
  EXPECT_EQ(ScheduledLearningRate(*config, -1.0), 0.5);
  auto constant = ParseYaml("optimizer:\n  learning_rate: 0.5\n");
  EXPECT_EQ(ScheduledLearningRate(*constant, 0.7), 0.5);
  EXPECT_THAT(std::string(ParseYaml("optimizer:\n  schedule: cosine\n").status().message()),
              HasSubstr("field 'optimizer.schedule': 'cosine' is not one of"));

  // A rate set between steps is the one the next step uses.
  auto opt = Make(Sgd(0.5, 0.0), 1);
  opt->set_learning_rate(0.25);
  EXPECT_EQ(opt->learning_rate(), 0.25);
  std::vector<float> p = {1.0f};
  opt->Step(absl::MakeSpan(p), std::vector<float>{1.0f});
  EXPECT_EQ(p[0], 0.75f);
  opt->set_learning_rate(0.0);
  opt->Step(absl::MakeSpan(p), std::vector<float>{1.0f});
  EXPECT_EQ(p[0], 0.75f);
}

TEST(OptimizerConfigTest, MakeOptimizerRejectsBadValues) {
  OptimizerConfig config = Adam(0.0);
  auto made = MakeOptimizer(config, 4);
  ASSERT_FALSE(made.ok());
  EXPECT_THAT(made.status().message(), HasSubstr("optimizer field 'learning_rate'"));
}

}  // namespace
}  // namespace cosched::worker
