// File: worker/data/idx_reader.h
// Reads labeled image sets in the IDX format of (Fashion-)MNIST: an images file (magic
// 0x00000803: unsigned bytes, 3 dims: count x rows x cols) and a labels file (magic
// 0x00000801: unsigned bytes, 1 dim: count), big-endian headers, gzip-compressed or plain
// (zlib reads both transparently). Everything read from the files is validated; a bad file
// gives an absl::Status naming the file and the reason, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace cosched::worker {

// Labels must be < kIdxMaxClasses (Fashion-MNIST has 10 classes).
inline constexpr int kIdxMaxClasses = 10;
// Image rows and cols must each be in [1, kIdxMaxSide].
inline constexpr int kIdxMaxSide = 1024;

// A set of equally sized grayscale images with one class label each.
struct LabeledImages {
  int rows = 0, cols = 0;
  std::vector<float> pixels;    // size() * rows * cols, row-major per image, scaled to [0, 1]
  std::vector<uint8_t> labels;  // one per image, in [0, kIdxMaxClasses)
  size_t size() const { return labels.size(); }
  int pixels_per_image() const { return rows * cols; }
  const float* image(size_t i) const {
    return pixels.data() + i * static_cast<size_t>(rows) * static_cast<size_t>(cols);
  }
};

// Reads an images file and its labels file. Checks both magics and dimension counts, image
// dimensions, that both files hold the same number of items, that each payload has exactly
// the length its header announces (no truncation, no trailing bytes) and that every label is
// in range. Pixels are converted from bytes to floats in [0, 1] (byte / 255).
absl::StatusOr<LabeledImages> ReadIdxPair(const std::string& images_path,
                                          const std::string& labels_path);

struct FashionMnist {
  LabeledImages train;  // 60000 images in the real data set
  LabeledImages test;   // 10000 images in the real data set
};

// Where Debian's dataset-fashion-mnist package installs the data.
inline constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";

// Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz from `dir`; train and test images
// must have the same dimensions.
absl::StatusOr<FashionMnist> LoadFashionMnist(const std::string& dir = kFashionMnistDir);

}  // namespace cosched::worker
