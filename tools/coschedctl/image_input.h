// File: tools/coschedctl/image_input.h
// The image `coschedctl infer` sends: one 28x28 grayscale Fashion-MNIST-sized image as 784
// raw bytes (row-major, 0..255), taken from the test set or from a file that holds either
// exactly those 784 bytes or a binary PGM (P5). A file that is neither gets an error saying
// what is wrong with it.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cosched::coschedctl {

inline constexpr int kImageSide = 28;
inline constexpr size_t kImageBytes = kImageSide * kImageSide;

// "T-shirt/top", "Trouser", ... for labels 0..9; "class N" for anything else.
std::string FashionMnistClassName(int64_t label);

struct LabeledImage {
  std::string pixels;  // kImageBytes raw bytes
  int label = -1;      // the true class, -1 when unknown
};

// Image `index` of the Fashion-MNIST test set in `data_dir` (t10k-*-ubyte.gz).
absl::StatusOr<LabeledImage> TestSetImage(const std::string& data_dir, int64_t index);

// The raw bytes of the image in `contents`, read from `path` (named in errors).
absl::StatusOr<std::string> ParseImage(const std::string& path, absl::string_view contents);
// Reads `path` and parses it with ParseImage.
absl::StatusOr<std::string> ReadImageFile(const std::string& path);

}  // namespace cosched::coschedctl
