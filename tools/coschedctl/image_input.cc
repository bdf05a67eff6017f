// File: tools/coschedctl/image_input.cc
#include "tools/coschedctl/image_input.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "worker/data/idx_reader.h"

namespace cosched::coschedctl {
namespace {

// Reads the PGM header's whitespace-separated decimal numbers, skipping '#' comments (which
// run to the end of their line).
class PgmHeader {
 public:
  explicit PgmHeader(absl::string_view text) : text_(text) {}

  std::optional<int64_t> Next() {
    while (pos_ < text_.size()) {
      if (text_[pos_] == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
        ++pos_;
      } else {
        break;
      }
    }
    int64_t value = 0;
    size_t digits = 0;
    while (pos_ < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
      if (value < 1'000'000) value = value * 10 + (text_[pos_] - '0');
      ++pos_;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    return value;
  }
  // After maxval: exactly one whitespace character, then the raster.
  std::optional<absl::string_view> Raster() {
    if (pos_ >= text_.size() || !absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      return std::nullopt;
    }
    return text_.substr(pos_ + 1);
  }

 private:
  absl::string_view text_;
  size_t pos_ = 2;  // past "P5"
};

absl::Status Bad(const std::string& path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("image file '", path, "': ", why));
}

absl::StatusOr<std::string> ParsePgm(const std::string& path, absl::string_view contents) {
  PgmHeader header(contents);
  const std::optional<int64_t> width = header.Next();
  const std::optional<int64_t> height = header.Next();
  const std::optional<int64_t> maxval = header.Next();
  if (!width || !height || !maxval) {
    return Bad(path, "PGM header is incomplete: expected P5, width, height and maxval");
  }
  if (*width != kImageSide || *height != kImageSide) {
    return Bad(path, absl::StrCat("PGM is ", *width, "x", *height, "; the model takes ", kImageSide,
                                  "x", kImageSide, " images"));
  }
  if (*maxval < 1 || *maxval > 255) {
    return Bad(path, absl::StrCat("PGM maxval ", *maxval,
                                  " is not supported (8-bit PGM only: maxval 1..255)"));
  }
  const std::optional<absl::string_view> raster = header.Raster();
  if (!raster) return Bad(path, "PGM header does not end with a whitespace after maxval");
  if (raster->size() != kImageBytes) {
    return Bad(path, absl::StrCat("PGM raster has ", raster->size(), " bytes; ", kImageSide, "x",
                                  kImageSide, " needs ", kImageBytes,
                                  raster->size() < kImageBytes ? " (truncated?)" : ""));
  }
  std::string pixels(kImageBytes, '\0');
  for (size_t i = 0; i < kImageBytes; ++i) {
    const int value = static_cast<unsigned char>((*raster)[i]);
    if (value > *maxval) {
      return Bad(path, absl::StrCat("PGM pixel ", i, " is ", value, ", above maxval ", *maxval));
    }
    // Rescale to 0..255, the range the model was trained on.
    pixels[i] = static_cast<char>(std::lround(value * 255.0 / static_cast<double>(*maxval)));
  }
  return pixels;
}

}  // namespace

std::string FashionMnistClassName(int64_t label) {
  static constexpr const char* kNames[] = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                           "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                           "Bag",         "Ankle boot"};
  if (label < 0 || label >= 10) return absl::StrCat("class ", label);
  return kNames[label];
}

absl::StatusOr<LabeledImage> TestSetImage(const std::string& data_dir, int64_t index) {
  // The test set alone: loading the 60000 training images too would only cost time.
  absl::StatusOr<worker::LabeledImages> test = worker::ReadIdxPair(
      data_dir + "/t10k-images-idx3-ubyte.gz", data_dir + "/t10k-labels-idx1-ubyte.gz");
  if (!test.ok()) return test.status();
  if (test->rows != kImageSide || test->cols != kImageSide) {
    return absl::FailedPreconditionError(absl::StrCat("test set in '", data_dir, "' has ",
                                                      test->rows, "x", test->cols, " images, not ",
                                                      kImageSide, "x", kImageSide));
  }
  if (index < 0 || static_cast<size_t>(index) >= test->size()) {
    return absl::OutOfRangeError(absl::StrCat("--image-index ", index,
                                              " is out of range: the test set has ", test->size(),
                                              " images (0..", test->size() - 1, ")"));
  }
  LabeledImage out;
  out.pixels.resize(kImageBytes);
  const float* image = test->image(static_cast<size_t>(index));
  for (size_t p = 0; p < kImageBytes; ++p) {
    // The reader scaled bytes to [0, 1]; the wire carries the bytes.
    out.pixels[p] = static_cast<char>(std::lround(image[p] * 255.0f));
  }
  out.label = test->labels[static_cast<size_t>(index)];
  return out;
}

absl::StatusOr<std::string> ParseImage(const std::string& path, absl::string_view contents) {
  // A PGM always has a header, so a file of exactly 784 bytes is a raw image.
  if (contents.size() == kImageBytes) return std::string(contents);
  if (absl::StartsWith(contents, "P5")) return ParsePgm(path, contents);
  if (absl::StartsWith(contents, "P2")) {
    return Bad(path, "plain (ASCII, P2) PGM is not supported; use binary PGM (P5)");
  }
  return Bad(
      path, absl::StrCat("is ", contents.size(), " bytes and not a binary PGM; expected ",
                         kImageBytes, " raw bytes (", kImageSide, "x", kImageSide,
                         " grayscale, row-major) or a ", kImageSide, "x", kImageSide, " PGM (P5)"));
}

absl::StatusOr<std::string> ReadImageFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read image file '", path, "': ", std::strerror(errno)));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  return ParseImage(path, contents.str());
}

}  // namespace cosched::coschedctl
