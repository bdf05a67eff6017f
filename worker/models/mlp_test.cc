// File: worker/models/mlp_test.cc
// Tests for Mlp: parameter layout, initialisation, gradients against a double-precision
// reference with central finite differences, the sum-of-gradients contract that makes the
// cross-rank mean exact, prediction, and that a small net actually learns (the `model:`
// config is tested in common/model_config_test.cc).
#include "worker/models/mlp.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "worker/models/optimizer.h"

namespace cosched::worker {
namespace {

// Deterministic test inputs (independent of the code under test).
std::vector<float> RandomFloats(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) {
    x = scale * (static_cast<float>(rng() >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f);
  }
  return v;
}

std::vector<uint8_t> RandomLabels(size_t n, int classes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& x : v) x = static_cast<uint8_t>(rng() % classes);
  return v;
}

// The loss summed over samples, computed independently in double with plain loops from the
// documented layout (per layer: W out x in row-major, then b).
double ReferenceLoss(const std::vector<int>& sizes, const std::vector<double>& params,
                     const std::vector<float>& images, const std::vector<uint8_t>& labels) {
  const int n = static_cast<int>(labels.size());
  double total = 0.0;
  for (int s = 0; s < n; ++s) {
    std::vector<double> a(images.begin() + s * sizes[0], images.begin() + (s + 1) * sizes[0]);
    size_t offset = 0;
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
      const int in = sizes[l];
      const int out = sizes[l + 1];
      std::vector<double> z(out);
      for (int o = 0; o < out; ++o) {
        double acc = params[offset + static_cast<size_t>(out) * in + o];
        for (int i = 0; i < in; ++i) acc += params[offset + static_cast<size_t>(o) * in + i] * a[i];
        z[o] = (l + 2 < sizes.size()) ? std::max(acc, 0.0) : acc;
      }
      offset += static_cast<size_t>(out) * in + out;
      a = z;
    }
    const double max = *std::max_element(a.begin(), a.end());
    double sum = 0.0;
    for (double x : a) sum += std::exp(x - max);
    total += std::log(sum) - (a[labels[s]] - max);
  }
  return total;
}

TEST(MlpTest, CreateValidatesSizes) {
  EXPECT_FALSE(Mlp::Create({}).ok());
  EXPECT_FALSE(Mlp::Create({784}).ok());
  EXPECT_FALSE(Mlp::Create({784, 0, 10}).ok());
  EXPECT_FALSE(Mlp::Create({784, -3, 10}).ok());
  EXPECT_FALSE(Mlp::Create({784, 300}).ok());  // labels are uint8_t
  EXPECT_TRUE(Mlp::Create({784, 10}).ok());
}

TEST(MlpTest, LayoutOfTheDefaultNet) {
  auto mlp = Mlp::Create({784, 256, 128, 10});
  ASSERT_TRUE(mlp.ok()) << mlp.status();
  EXPECT_EQ(mlp->num_parameters(), 784u * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  EXPECT_EQ(mlp->input_size(), 784);
  EXPECT_EQ(mlp->num_classes(), 10);
  EXPECT_EQ(mlp->num_layers(), 3);
  EXPECT_EQ(mlp->weight_offset(0), 0u);
  EXPECT_EQ(mlp->bias_offset(0), 784u * 256);
  EXPECT_EQ(mlp->weight_offset(1), 784u * 256 + 256);
  EXPECT_EQ(mlp->bias_offset(2) + 10, mlp->num_parameters());
}

TEST(MlpTest, InitParametersIsDeterministicAndHeScaled) {
  auto mlp = Mlp::Create({784, 256, 128, 10});
  ASSERT_TRUE(mlp.ok());
  std::vector<float> a(mlp->num_parameters(), 7.0f), b(mlp->num_parameters()),
      c(mlp->num_parameters());
  mlp->InitParameters(absl::MakeSpan(a), 42);
  mlp->InitParameters(absl::MakeSpan(b), 42);
  mlp->InitParameters(absl::MakeSpan(c), 43);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  EXPECT_NE(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(float)));

  for (int l = 0; l < mlp->num_layers(); ++l) {
    const int in = mlp->layer_sizes()[l];
    const int out = mlp->layer_sizes()[l + 1];
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < in * out; ++i) {
      const double w = a[mlp->weight_offset(l) + i];
      sum += w;
      sum_sq += w * w;
    }
    const double count = static_cast<double>(in) * out;
    const double mean = sum / count;
    const double stddev = std::sqrt(sum_sq / count - mean * mean);
    const double expected = std::sqrt(2.0 / in);
    EXPECT_NEAR(stddev, expected, 0.1 * expected) << "layer " << l;
    EXPECT_NEAR(mean, 0.0, 5.0 * expected / std::sqrt(count)) << "layer " << l;
    for (int o = 0; o < out; ++o) EXPECT_EQ(a[mlp->bias_offset(l) + o], 0.0f);
  }
}

// The generator is mt19937_64 + Box-Muller, specified here rather than by the standard
// library, so these values must come out the same on every machine and compiler. A failure
// means initial parameters now differ between machines (or the generator was changed).
TEST(MlpTest, InitParametersGoldenValues) {
  auto mlp = Mlp::Create({784, 256, 128, 10});
  ASSERT_TRUE(mlp.ok());
  std::vector<float> p(mlp->num_parameters());
  mlp->InitParameters(absl::MakeSpan(p), 1);
  EXPECT_EQ(p[0], 0x1.0f9a0ap-4f);
  EXPECT_EQ(p[1], 0x1.399e2cp-4f);
  EXPECT_EQ(p[2], 0x1.02b958p-4f);
}

TEST(MlpTest, GradientsMatchFiniteDifferencesOfAReference) {
  const std::vector<int> sizes = {6, 5, 4, 3};
  auto mlp = Mlp::Create(sizes);
  ASSERT_TRUE(mlp.ok());
  const int n = 4;
  std::vector<float> params(mlp->num_parameters());
  mlp->InitParameters(absl::MakeSpan(params), 7);
  // Non-zero biases so every parameter matters.
  const std::vector<float> noise = RandomFloats(params.size(), 8, 0.1f);
  for (size_t i = 0; i < params.size(); ++i) params[i] += noise[i];
  const std::vector<float> images = RandomFloats(n * sizes[0], 9, 1.0f);
  const std::vector<uint8_t> labels = {0, 2, 1, 2};

  std::vector<float> grads(params.size(), 0.0f);
  Mlp::Workspace ws;
  const double loss =
      mlp->AccumulateGradients(params, images.data(), labels.data(), n, absl::MakeSpan(grads), ws);

  std::vector<double> p(params.begin(), params.end());
  EXPECT_NEAR(loss, ReferenceLoss(sizes, p, images, labels), 1e-5 * std::abs(loss));

  const double h = 1e-5;
  double worst = 0.0;
  for (size_t i = 0; i < params.size(); ++i) {
    const double saved = p[i];
    p[i] = saved + h;
    const double up = ReferenceLoss(sizes, p, images, labels);
    p[i] = saved - h;
    const double down = ReferenceLoss(sizes, p, images, labels);
    p[i] = saved;
    const double numeric = (up - down) / (2 * h);
    const double error = std::abs(numeric - grads[i]) / std::max(1e-3, std::abs(numeric));
    worst = std::max(worst, error);
    EXPECT_LT(error, 1e-3) << "parameter " << i << ": analytic " << grads[i] << ", numeric "
                           << numeric;
  }
  RecordProperty("worst_relative_error", std::to_string(worst));
}

TEST(MlpTest, BatchEqualsSumOfSingleSamples) {
  auto mlp = Mlp::Create({20, 16, 8, 5});
  ASSERT_TRUE(mlp.ok());
  const int n = 7;
  std::vector<float> params(mlp->num_parameters());
  mlp->InitParameters(absl::MakeSpan(params), 1);
  const std::vector<float> images = RandomFloats(n * 20, 2, 1.0f);
  const std::vector<uint8_t> labels = RandomLabels(n, 5, 3);

  Mlp::Workspace ws;
  std::vector<float> batch(params.size(), 0.0f), singles(params.size(), 0.0f);
  const double batch_loss =
      mlp->AccumulateGradients(params, images.data(), labels.data(), n, absl::MakeSpan(batch), ws);
  double single_loss = 0.0;
  for (int s = 0; s < n; ++s) {
    single_loss += mlp->AccumulateGradients(params, images.data() + s * 20, labels.data() + s, 1,
                                            absl::MakeSpan(singles), ws);
  }
  EXPECT_NEAR(batch_loss, single_loss, 1e-5 * batch_loss);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_NEAR(batch[i], singles[i], 1e-5f * (1.0f + std::abs(batch[i]))) << i;
  }
}

TEST(MlpTest, ZeroSamplesAddNothing) {
  auto mlp = Mlp::Create({20, 16, 5});
  ASSERT_TRUE(mlp.ok());
  std::vector<float> params(mlp->num_parameters());
  mlp->InitParameters(absl::MakeSpan(params), 1);
  std::vector<float> grads = RandomFloats(params.size(), 4, 1.0f);
  const std::vector<float> before = grads;
  Mlp::Workspace ws;
  EXPECT_EQ(mlp->AccumulateGradients(params, nullptr, nullptr, 0, absl::MakeSpan(grads), ws), 0.0);
  EXPECT_EQ(0, std::memcmp(grads.data(), before.data(), grads.size() * sizeof(float)));
}

// The trainer reduces (sum of per-sample gradients, sample count) across ranks and divides
// once; that must equal the mean over all samples whatever the split, including empty ranks.
TEST(MlpTest, ExactMeanWithUnequalAndZeroCounts) {
  auto mlp = Mlp::Create({20, 16, 8, 5});
  ASSERT_TRUE(mlp.ok());
  const int n = 8;
  std::vector<float> params(mlp->num_parameters());
  mlp->InitParameters(absl::MakeSpan(params), 11);
  const std::vector<float> images = RandomFloats(n * 20, 12, 1.0f);
  const std::vector<uint8_t> labels = RandomLabels(n, 5, 13);
  Mlp::Workspace ws;

  std::vector<float> all(params.size(), 0.0f);
  mlp->AccumulateGradients(params, images.data(), labels.data(), n, absl::MakeSpan(all), ws);

  for (int first : {3, 0, 8}) {
    // Each rank accumulates into its own zeroed buffer, then the buffers are summed.
    std::vector<float> rank0(params.size(), 0.0f), rank1(params.size(), 0.0f);
    Mlp::Workspace ws0, ws1;
    const int count0 = first;
    const int count1 = n - first;
    mlp->AccumulateGradients(params, images.data(), labels.data(), count0, absl::MakeSpan(rank0),
                             ws0);
    mlp->AccumulateGradients(params, images.data() + first * 20, labels.data() + first, count1,
                             absl::MakeSpan(rank1), ws1);
    const float total = static_cast<float>(count0 + count1);
    ASSERT_EQ(total, 8.0f);
    for (size_t i = 0; i < params.size(); ++i) {
      const float mean = (rank0[i] + rank1[i]) / total;
      EXPECT_NEAR(mean, all[i] / 8.0f, 1e-6f * (1.0f + std::abs(all[i]))) << "split " << first;
    }
  }
}

TEST(MlpTest, AccumulatesOnTopOfExistingGradients) {
  auto mlp = Mlp::Create({20, 8, 5});
  ASSERT_TRUE(mlp.ok());
  std::vector<float> params(mlp->num_parameters());
  mlp->InitParameters(absl::MakeSpan(params), 5);
  const std::vector<float> images = RandomFloats(3 * 20, 6, 1.0f);
  const std::vector<uint8_t> labels = {1, 4, 0};
  Mlp::Workspace ws;
  std::vector<float> once(params.size(), 0.0f);
  mlp->AccumulateGradients(params, images.data(), labels.data(), 3, absl::MakeSpan(once), ws);
  std::vector<float> twice(params.size(), 0.0f);
  mlp->AccumulateGradients(params, images.data(), labels.data(), 3, absl::MakeSpan(twice), ws);
  mlp->AccumulateGradients(params, images.data(), labels.data(), 3, absl::MakeSpan(twice), ws);
  for (size_t i = 0; i < params.size(); ++i) EXPECT_FLOAT_EQ(twice[i], 2.0f * once[i]);
}

TEST(MlpTest, WorkspaceReuseDoesNotChangeResults) {
  auto mlp = Mlp::Create({20, 16, 5});
  ASSERT_TRUE(mlp.ok());
  std::vector<float> params(mlp->num_parameters());
  mlp->InitParameters(absl::MakeSpan(params), 5);
  const std::vector<float> images = RandomFloats(32 * 20, 6, 1.0f);
  const std::vector<uint8_t> labels = RandomLabels(32, 5, 7);

  Mlp::Workspace fresh, used;
  std::vector<float> scratch(params.size(), 0.0f);
  mlp->AccumulateGradients(params, images.data(), labels.data(), 32, absl::MakeSpan(scratch), used);
  std::vector<float> a(params.size(), 0.0f), b(params.size(), 0.0f);
  mlp->AccumulateGradients(params, images.data(), labels.data(), 5, absl::MakeSpan(a), fresh);
  mlp->AccumulateGradients(params, images.data(), labels.data(), 5, absl::MakeSpan(b), used);
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

TEST(MlpTest, PredictGivesProbabilitiesConsistentWithTheLoss) {
  auto mlp = Mlp::Create({20, 16, 8, 5});
  ASSERT_TRUE(mlp.ok());
  const int n = 9;
  std::vector<float> params(mlp->num_parameters());
  mlp->InitParameters(absl::MakeSpan(params), 21);
  const std::vector<float> images = RandomFloats(n * 20, 22, 2.0f);
  const std::vector<uint8_t> labels = RandomLabels(n, 5, 23);
  Mlp::Workspace ws;
  std::vector<float> probs(n * 5, -1.0f);
  mlp->Predict(params, images.data(), n, absl::MakeSpan(probs), ws);

  double loss_from_probs = 0.0;
  int argmax_correct = 0;
  for (int s = 0; s < n; ++s) {
    const float* row = probs.data() + s * 5;
    double sum = 0.0;
    for (int k = 0; k < 5; ++k) {
      EXPECT_GE(row[k], 0.0f);
      EXPECT_LE(row[k], 1.0f);
      sum += row[k];
    }
    EXPECT_NEAR(sum, 1.0, 1e-5) << "row " << s;
    loss_from_probs -= std::log(static_cast<double>(row[labels[s]]));
    if (std::max_element(row, row + 5) - row == labels[s]) ++argmax_correct;
  }
  std::vector<float> grads(params.size(), 0.0f);
  const double loss =
      mlp->AccumulateGradients(params, images.data(), labels.data(), n, absl::MakeSpan(grads), ws);
  EXPECT_NEAR(loss, loss_from_probs, 1e-4 * loss);
  EXPECT_EQ(mlp->CountCorrect(params, images.data(), labels.data(), n, ws), argmax_correct);
}

// Ten Gaussian clusters in 20 dimensions: a 20-32-10 net trained with Adam on micro-batches
// of 16 (gradient sums divided by the count, as the trainer does) must classify held-out
// points almost perfectly.
TEST(MlpTest, LearnsASeparableDataset) {
  const int dims = 20, classes = 10, train_n = 1000, test_n = 500;
  const std::vector<float> centers = RandomFloats(classes * dims, 31, 2.0f);
  auto make = [&](int count, uint64_t seed, std::vector<float>& x, std::vector<uint8_t>& y) {
    x = RandomFloats(static_cast<size_t>(count) * dims, seed, 0.6f);
    y = RandomLabels(count, classes, seed + 1);
    for (int s = 0; s < count; ++s) {
      for (int d = 0; d < dims; ++d) x[s * dims + d] += centers[y[s] * dims + d];
    }
  };
  std::vector<float> train_x, test_x;
  std::vector<uint8_t> train_y, test_y;
  make(train_n, 40, train_x, train_y);
  make(test_n, 50, test_x, test_y);

  auto mlp = Mlp::Create({dims, 32, classes});
  ASSERT_TRUE(mlp.ok());
  std::vector<float> params(mlp->num_parameters()), grads(params.size());
  mlp->InitParameters(absl::MakeSpan(params), 60);
  OptimizerConfig config;
  config.learning_rate = 0.01;
  auto optimizer = MakeOptimizer(config, params.size());
  ASSERT_TRUE(optimizer.ok()) << optimizer.status();

  Mlp::Workspace ws;
  Mlp::Workspace eval_ws;
  const int initial = mlp->CountCorrect(params, test_x.data(), test_y.data(), test_n, eval_ws);
  const int batch = 16;
  double last_epoch_loss = 0.0;
  for (int epoch = 0; epoch < 5; ++epoch) {
    last_epoch_loss = 0.0;
    for (int start = 0; start < train_n; start += batch) {
      const int count = std::min(batch, train_n - start);
      std::fill(grads.begin(), grads.end(), 0.0f);
      last_epoch_loss +=
          mlp->AccumulateGradients(params, train_x.data() + start * dims, train_y.data() + start,
                                   count, absl::MakeSpan(grads), ws);
      for (float& g : grads) g /= static_cast<float>(count);
      (*optimizer)->Step(absl::MakeSpan(params), grads);
    }
  }
  const int correct = mlp->CountCorrect(params, test_x.data(), test_y.data(), test_n, eval_ws);
  EXPECT_LT(initial, test_n / 2);
  EXPECT_GE(correct, test_n * 97 / 100) << "initial " << initial;
  EXPECT_LT(last_epoch_loss / train_n, 0.1);
}

}  // namespace
}  // namespace cosched::worker
