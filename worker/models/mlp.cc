// File: worker/models/mlp.cc
// The MLP's forward and backward passes as Eigen matrix products over Eigen::Map views of the
// caller's parameter and gradient buffers. Activations are stored column-major, one column
// per sample (features x n), which is exactly the memory of the row-major n x features input
// and output matrices, so inputs and Predict's output need no copies.
#include "worker/models/mlp.h"

#include <Eigen/Core>
#include <cmath>
#include <random>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/model_config.h"
#include "common/status_macros.h"

namespace cosched::worker {
namespace {

using MatrixC = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using MatrixR = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MapC = Eigen::Map<MatrixC>;
using ConstMapC = Eigen::Map<const MatrixC>;
using MapR = Eigen::Map<MatrixR>;
using ConstMapR = Eigen::Map<const MatrixR>;
using MapVec = Eigen::Map<Eigen::VectorXf>;
using ConstMapVec = Eigen::Map<const Eigen::VectorXf>;

// Standard normal deviates from mt19937_64 (whose output sequence the C++ standard fixes)
// through Box-Muller in double precision. std::normal_distribution is not used because its
// algorithm is implementation-defined.
class NormalSource {
 public:
  explicit NormalSource(uint64_t seed) : rng_(seed) {}

  double Next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    // u1 in (0, 1] so log(u1) is finite; u2 in [0, 1). 53 random bits each.
    const double u1 = static_cast<double>((rng_() >> 11) + 1) * 0x1p-53;
    const double u2 = static_cast<double>(rng_() >> 11) * 0x1p-53;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double theta = 6.283185307179586476925286766559 * u2;
    spare_ = radius * std::sin(theta);
    has_spare_ = true;
    return radius * std::cos(theta);
  }

 private:
  std::mt19937_64 rng_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// Turns the logits in `z` (classes x n) into softmax probabilities in place, column by
// column. With `labels`, returns the sum of -log p[label] computed stably from the logits.
double SoftmaxInPlace(MapC z, const uint8_t* labels) {
  double loss = 0.0;
  for (Eigen::Index j = 0; j < z.cols(); ++j) {
    auto col = z.col(j);
    const float max = col.maxCoeff();
    float label_logit = 0.0f;
    if (labels != nullptr) label_logit = col(labels[j]) - max;
    col = (col.array() - max).exp();
    const float sum = col.sum();
    col *= 1.0f / sum;
    if (labels != nullptr) {
      loss += std::log(static_cast<double>(sum)) - static_cast<double>(label_logit);
    }
  }
  return loss;
}

}  // namespace

absl::StatusOr<Mlp> Mlp::Create(std::vector<int> layer_sizes) {
  if (layer_sizes.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an MLP needs at least 2 layer sizes (input and classes), got ", layer_sizes.size()));
  }
  for (size_t i = 0; i < layer_sizes.size(); ++i) {
    if (layer_sizes[i] <= 0 || layer_sizes[i] > kMaxMlpLayerWidth) {
      return absl::InvalidArgumentError(absl::StrCat("MLP layer ", i, " has size ", layer_sizes[i],
                                                     "; must be in [1, ", kMaxMlpLayerWidth, "]"));
    }
  }
  if (layer_sizes.back() > 256) {
    return absl::InvalidArgumentError(absl::StrCat("MLP has ", layer_sizes.back(),
                                                   " classes; labels are uint8_t, so at most 256"));
  }
  return Mlp(std::move(layer_sizes));
}

Mlp::Mlp(std::vector<int> layer_sizes) : layer_sizes_(std::move(layer_sizes)) {
  size_t offset = 0;
  for (size_t l = 0; l + 1 < layer_sizes_.size(); ++l) {
    const size_t weights =
        static_cast<size_t>(layer_sizes_[l]) * static_cast<size_t>(layer_sizes_[l + 1]);
    weight_offsets_.push_back(offset);
    weight_counts_.push_back(weights);
    offset += weights + static_cast<size_t>(layer_sizes_[l + 1]);
  }
  num_parameters_ = offset;
}

void Mlp::InitParameters(absl::Span<float> params, uint64_t seed) const {
  COSCHED_CHECK(params.size() == num_parameters_, "params has {} floats, the model needs {}",
                params.size(), num_parameters_);
  NormalSource normal(seed);
  for (int l = 0; l < num_layers(); ++l) {
    const double stddev = std::sqrt(2.0 / static_cast<double>(layer_sizes_[l]));
    float* w = params.data() + weight_offsets_[l];
    for (size_t i = 0; i < weight_counts_[l]; ++i) {
      w[i] = static_cast<float>(stddev * normal.Next());
    }
    float* b = params.data() + bias_offset(l);
    for (int i = 0; i < layer_sizes_[l + 1]; ++i) b[i] = 0.0f;
  }
}

void Mlp::Reserve(int n, Workspace& ws) const {
  const int layers = num_layers();
  if (static_cast<int>(ws.acts_.size()) != layers) {
    ws.acts_.assign(layers, {});
    ws.deltas_.assign(layers, {});
    ws.capacity_ = 0;
  }
  if (n <= ws.capacity_) return;
  for (int l = 0; l < layers; ++l) {
    const size_t size = static_cast<size_t>(layer_sizes_[l + 1]) * static_cast<size_t>(n);
    ws.acts_[l].resize(size);
    ws.deltas_[l].resize(size);
  }
  ws.capacity_ = n;
}

void Mlp::Forward(absl::Span<const float> params, const float* images, int n, Workspace& ws,
                  float* out) const {
  const int layers = num_layers();
  const float* input = images;
  for (int l = 0; l < layers; ++l) {
    const int in = layer_sizes_[l];
    const int outs = layer_sizes_[l + 1];
    ConstMapR w(params.data() + weight_offsets_[l], outs, in);
    ConstMapVec b(params.data() + bias_offset(l), outs);
    ConstMapC a(input, in, n);
    float* z_data = (l == layers - 1 && out != nullptr) ? out : ws.acts_[l].data();
    MapC z(z_data, outs, n);
    z.noalias() = w * a;
    z.colwise() += b;
    if (l < layers - 1) z = z.cwiseMax(0.0f);  // ReLU
    input = z_data;
  }
}

double Mlp::AccumulateGradients(absl::Span<const float> params, const float* images,
                                const uint8_t* labels, int n, absl::Span<float> grads,
                                Workspace& ws) const {
  COSCHED_CHECK(params.size() == num_parameters_, "params has {} floats, the model needs {}",
                params.size(), num_parameters_);
  COSCHED_CHECK(grads.size() == num_parameters_, "grads has {} floats, the model needs {}",
                grads.size(), num_parameters_);
  COSCHED_CHECK(n >= 0, "negative sample count {}", n);
  if (n == 0) return 0.0;
  const int classes = num_classes();
  for (int j = 0; j < n; ++j) {
    COSCHED_CHECK(labels[j] < classes, "label {} of sample {} is not below {} classes", labels[j],
                  j, classes);
  }
  Reserve(n, ws);
  Forward(params, images, n, ws, nullptr);

  const int layers = num_layers();
  MapC probs(ws.acts_[layers - 1].data(), classes, n);
  const double loss = SoftmaxInPlace(probs, labels);

  // d loss / d logits = p - onehot(label), per sample.
  MapC top(ws.deltas_[layers - 1].data(), classes, n);
  top = probs;
  for (int j = 0; j < n; ++j) top(labels[j], j) -= 1.0f;

  for (int l = layers - 1; l >= 0; --l) {
    const int in = layer_sizes_[l];
    const int outs = layer_sizes_[l + 1];
    const float* input = l == 0 ? images : ws.acts_[l - 1].data();
    ConstMapC a(input, in, n);
    MapC delta(ws.deltas_[l].data(), outs, n);
    MapR dw(grads.data() + weight_offsets_[l], outs, in);
    MapVec db(grads.data() + bias_offset(l), outs);
    dw.noalias() += delta * a.transpose();
    db += delta.rowwise().sum();
    if (l > 0) {
      ConstMapR w(params.data() + weight_offsets_[l], outs, in);
      MapC below(ws.deltas_[l - 1].data(), in, n);
      below.noalias() = w.transpose() * delta;
      // ReLU derivative: pass the gradient where the activation was positive.
      below.array() *= (a.array() > 0.0f).cast<float>();
    }
  }
  return loss;
}

void Mlp::Predict(absl::Span<const float> params, const float* images, int n,
                  absl::Span<float> probabilities, Workspace& ws) const {
  COSCHED_CHECK(params.size() == num_parameters_, "params has {} floats, the model needs {}",
                params.size(), num_parameters_);
  COSCHED_CHECK(n >= 0, "negative sample count {}", n);
  COSCHED_CHECK(probabilities.size() >= static_cast<size_t>(n) * num_classes(),
                "probabilities holds {} floats, {} samples need {}", probabilities.size(), n,
                static_cast<size_t>(n) * num_classes());
  if (n == 0) return;
  Reserve(n, ws);
  Forward(params, images, n, ws, probabilities.data());
  SoftmaxInPlace(MapC(probabilities.data(), num_classes(), n), nullptr);
}

int Mlp::CountCorrect(absl::Span<const float> params, const float* images, const uint8_t* labels,
                      int n, Workspace& ws) const {
  COSCHED_CHECK(params.size() == num_parameters_, "params has {} floats, the model needs {}",
                params.size(), num_parameters_);
  COSCHED_CHECK(n >= 0, "negative sample count {}", n);
  if (n == 0) return 0;
  Reserve(n, ws);
  Forward(params, images, n, ws, nullptr);
  ConstMapC logits(ws.acts_[num_layers() - 1].data(), num_classes(), n);
  int correct = 0;
  for (int j = 0; j < n; ++j) {
    Eigen::Index best = 0;
    logits.col(j).maxCoeff(&best);
    if (best == labels[j]) ++correct;
  }
  return correct;
}

}  // namespace cosched::worker
