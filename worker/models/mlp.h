// File: worker/models/mlp.h
// Mlp: a multilayer perceptron classifier (ReLU hidden layers, softmax cross-entropy) for
// Fashion-MNIST-sized inputs. The class holds only the architecture; every parameter lives in
// ONE contiguous float buffer owned by the caller (so a single allreduce or broadcast moves
// all of them) and gradients in another buffer of the same size.
//
// Parameter layout, layer by layer (l = 0 .. num_layers-1, in = sizes[l], out = sizes[l+1]):
//   W_l: out x in, row-major (PyTorch's nn.Linear layout), then b_l: out.
//
// Gradients are SUMS over samples, not means: AccumulateGradients adds the sum of per-sample
// gradients and returns the sum of per-sample losses, so ranks that processed different
// numbers of samples (or none) reduce exactly by summing gradients and counts, then dividing.
//
// Thread-safety: an Mlp is immutable after Create; const methods may run concurrently as
// long as each thread has its own Workspace and its own output buffers. Eigen runs
// single-threaded here (one core per worker rank).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace cosched::worker {

class Mlp {
 public:
  // Scratch space for one forward/backward pass. It grows to the largest batch seen and is
  // then reused, so a warm pass allocates nothing of its own. Not shareable between threads.
  class Workspace {
   public:
    Workspace() = default;

   private:
    friend class Mlp;
    int capacity_ = 0;                        // samples the buffers below hold
    std::vector<std::vector<float>> acts_;    // acts_[l]: sizes[l+1] x capacity (col-major)
    std::vector<std::vector<float>> deltas_;  // deltas_[l]: d loss / d pre-activation of l
  };

  // `layer_sizes` = {input, hidden..., classes}: at least 2 entries, all > 0.
  static absl::StatusOr<Mlp> Create(std::vector<int> layer_sizes);

  size_t num_parameters() const { return num_parameters_; }
  int input_size() const { return layer_sizes_.front(); }
  int num_classes() const { return layer_sizes_.back(); }
  int num_layers() const { return static_cast<int>(layer_sizes_.size()) - 1; }  // weight layers
  const std::vector<int>& layer_sizes() const { return layer_sizes_; }
  // Offsets into the parameter buffer of layer l's weights and biases.
  size_t weight_offset(int layer) const { return weight_offsets_[layer]; }
  size_t bias_offset(int layer) const { return weight_offsets_[layer] + weight_counts_[layer]; }

  // He-normal weights (stddev sqrt(2 / fan_in)), zero biases. Deterministic from `seed`:
  // mt19937_64 + a hand-written Box-Muller in double precision, rounded to float, so every
  // machine with an IEEE libm produces the same buffer (the trainer should still broadcast
  // rank 0's parameters rather than rely on it). params.size() must be num_parameters().
  void InitParameters(absl::Span<float> params, uint64_t seed) const;

  // Adds the SUM over the n samples of the per-sample gradient of the cross-entropy loss
  // into `grads` (it does not zero it) and returns the SUM of per-sample losses (natural log).
  // `images` is n x input_size row-major, `labels` has n entries in [0, num_classes).
  // n may be 0 (adds nothing, returns 0). Labels out of range are a caller bug (checked).
  double AccumulateGradients(absl::Span<const float> params, const float* images,
                             const uint8_t* labels, int n, absl::Span<float> grads,
                             Workspace& ws) const;

  // Class probabilities (softmax), n x num_classes row-major into `probabilities`
  // (size >= n * num_classes).
  void Predict(absl::Span<const float> params, const float* images, int n,
               absl::Span<float> probabilities, Workspace& ws) const;

  // Number of samples among n whose arg-max prediction equals the label. Convenience for
  // evaluation; uses the same forward pass as Predict.
  int CountCorrect(absl::Span<const float> params, const float* images, const uint8_t* labels,
                   int n, Workspace& ws) const;

 private:
  explicit Mlp(std::vector<int> layer_sizes);
  // Runs the forward pass into ws; the last layer's buffer holds softmax probabilities.
  // When `out` is non-null the probabilities go there instead (num_classes x n col-major).
  void Forward(absl::Span<const float> params, const float* images, int n, Workspace& ws,
               float* out) const;
  void Reserve(int n, Workspace& ws) const;

  std::vector<int> layer_sizes_;
  std::vector<size_t> weight_offsets_;
  std::vector<size_t> weight_counts_;
  size_t num_parameters_ = 0;
};

}  // namespace cosched::worker
