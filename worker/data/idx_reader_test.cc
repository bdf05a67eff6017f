// File: worker/data/idx_reader_test.cc
// Tests for ReadIdxPair / LoadFashionMnist: small IDX files (gzip and plain) written to the
// test's temp dir, one per kind of corruption, plus the real Fashion-MNIST files if installed.
#include "worker/data/idx_reader.h"

#include <zlib.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cosched::worker {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string BigEndianHeader(uint32_t magic, const std::vector<uint32_t>& dims) {
  std::string out;
  auto put = [&out](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
  };
  put(magic);
  for (uint32_t d : dims) put(d);
  return out;
}

std::string ImagesBytes(uint32_t n, uint32_t rows, uint32_t cols, const std::string& payload) {
  return BigEndianHeader(0x00000803, {n, rows, cols}) + payload;
}

std::string LabelsBytes(uint32_t n, const std::string& payload) {
  return BigEndianHeader(0x00000801, {n}) + payload;
}

// A path in the temp dir unique to the running test.
std::string TempPath(absl::string_view name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::path(::testing::TempDir()) /
          absl::StrCat("idx_", info->test_suite_name(), "_", info->name(), "_", name))
      .string();
}

void WriteGzip(const std::string& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(file), Z_OK);
}

void WritePlain(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadPlain(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Three 2x3 images and their labels.
const std::string kPixels = std::string("\x00\xff\x80\x01\x02\x03", 6) + "abcdef" + "ABCDEF";
const std::string kLabels = std::string("\x00\x09\x04", 3);

struct Pair {
  std::string images, labels;
};

Pair WritePair(const std::string& images_bytes, const std::string& labels_bytes, bool gzip = true) {
  Pair pair{TempPath("images.gz"), TempPath("labels.gz")};
  if (gzip) {
    WriteGzip(pair.images, images_bytes);
    WriteGzip(pair.labels, labels_bytes);
  } else {
    WritePlain(pair.images, images_bytes);
    WritePlain(pair.labels, labels_bytes);
  }
  return pair;
}

void ExpectValidSet(const LabeledImages& set) {
  EXPECT_EQ(set.rows, 2);
  EXPECT_EQ(set.cols, 3);
  EXPECT_EQ(set.pixels_per_image(), 6);
  ASSERT_EQ(set.size(), 3u);
  ASSERT_EQ(set.pixels.size(), 18u);
  EXPECT_EQ(set.labels, std::vector<uint8_t>({0, 9, 4}));
  for (size_t i = 0; i < kPixels.size(); ++i) {
    EXPECT_FLOAT_EQ(set.pixels[i], static_cast<unsigned char>(kPixels[i]) / 255.0f) << i;
  }
  EXPECT_FLOAT_EQ(set.image(0)[0], 0.0f);
  EXPECT_FLOAT_EQ(set.image(0)[1], 1.0f);
  EXPECT_FLOAT_EQ(set.image(2)[0], 'A' / 255.0f);
}

TEST(IdxReaderTest, GzipPairRoundTrips) {
  const Pair pair = WritePair(ImagesBytes(3, 2, 3, kPixels), LabelsBytes(3, kLabels));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_TRUE(set.ok()) << set.status();
  ExpectValidSet(*set);
}

TEST(IdxReaderTest, PlainPairRoundTrips) {
  const Pair pair = WritePair(ImagesBytes(3, 2, 3, kPixels), LabelsBytes(3, kLabels),
                              /*gzip=*/false);
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_TRUE(set.ok()) << set.status();
  ExpectValidSet(*set);
}

TEST(IdxReaderTest, ZeroImagesIsAnEmptySet) {
  const Pair pair = WritePair(ImagesBytes(0, 28, 28, ""), LabelsBytes(0, ""));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->size(), 0u);
  EXPECT_TRUE(set->pixels.empty());
}

TEST(IdxReaderTest, BadImagesMagic) {
  // A labels header where the images header belongs.
  const Pair pair = WritePair(LabelsBytes(3, kLabels), LabelsBytes(3, kLabels));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(set.status().message(),
              AllOf(HasSubstr(pair.images),
                    HasSubstr("bad magic 0x00000801, expected 0x00000803 (IDX images)")));
}

TEST(IdxReaderTest, BadLabelsMagic) {
  const Pair pair =
      WritePair(ImagesBytes(3, 2, 3, kPixels), BigEndianHeader(0x00000c01, {3}) + kLabels);
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(),
              AllOf(HasSubstr(pair.labels),
                    HasSubstr("bad magic 0x00000c01, expected 0x00000801 (IDX labels)")));
}

TEST(IdxReaderTest, BadDimensions) {
  const Pair zero_rows = WritePair(ImagesBytes(3, 0, 3, ""), LabelsBytes(3, kLabels));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(zero_rows.images, zero_rows.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(),
              AllOf(HasSubstr(zero_rows.images), HasSubstr("rows = 0, must be in [1, 1024]")));

  const Pair huge_cols = WritePair(ImagesBytes(3, 2, 5000, ""), LabelsBytes(3, kLabels));
  set = ReadIdxPair(huge_cols.images, huge_cols.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(), HasSubstr("cols = 5000, must be in [1, 1024]"));
}

TEST(IdxReaderTest, TruncatedHeader) {
  const Pair pair = WritePair(ImagesBytes(3, 2, 3, "").substr(0, 9), LabelsBytes(3, kLabels));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(
      set.status().message(),
      AllOf(HasSubstr(pair.images), HasSubstr("truncated header: expected 12 bytes, got 5")));
}

TEST(IdxReaderTest, TruncatedPayload) {
  const Pair pair = WritePair(ImagesBytes(3, 2, 3, kPixels.substr(0, 10)), LabelsBytes(3, kLabels));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(
      set.status().message(),
      AllOf(HasSubstr(pair.images), HasSubstr("truncated payload: expected 18 bytes, got 10")));
}

TEST(IdxReaderTest, TruncatedLabelsPayload) {
  const Pair pair = WritePair(ImagesBytes(3, 2, 3, kPixels), LabelsBytes(3, kLabels.substr(0, 2)));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(set.status().message(),
              AllOf(HasSubstr(pair.labels), HasSubstr("expected 3 bytes, got 2")));
}

TEST(IdxReaderTest, CutGzipStream) {
  // A valid gzip file cut in the middle: zlib reports an unexpected end of the stream.
  std::string big(4000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) % 251);
  const Pair pair = WritePair(ImagesBytes(1, 40, 100, big), LabelsBytes(1, std::string(1, '\3')));
  const std::string gz = ReadPlain(pair.images);
  ASSERT_GT(gz.size(), 100u);
  WritePlain(pair.images, gz.substr(0, gz.size() / 2));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(set.status().message(),
              AllOf(HasSubstr(pair.images), HasSubstr("truncated payload: expected 4000 bytes"),
                    HasSubstr("gzip stream truncated")));
}

TEST(IdxReaderTest, TrailingBytes) {
  const Pair pair = WritePair(ImagesBytes(3, 2, 3, kPixels + "extra"), LabelsBytes(3, kLabels));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(
      set.status().message(),
      AllOf(HasSubstr(pair.images), HasSubstr("5 trailing bytes after the 18-byte payload")));
}

TEST(IdxReaderTest, CountMismatch) {
  const Pair pair = WritePair(ImagesBytes(3, 2, 3, kPixels), LabelsBytes(2, kLabels.substr(0, 2)));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(set.status().message(), AllOf(HasSubstr(pair.images), HasSubstr("has 3 images"),
                                            HasSubstr(pair.labels), HasSubstr("has 2 labels")));
}

TEST(IdxReaderTest, LabelOutOfRange) {
  const Pair pair =
      WritePair(ImagesBytes(3, 2, 3, kPixels), LabelsBytes(3, std::string("\x01\x0a\x02", 3)));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
  ASSERT_FALSE(set.ok());
  EXPECT_THAT(
      set.status().message(),
      AllOf(HasSubstr(pair.labels), HasSubstr("label 10 at index 1 is out of range [0, 10)")));
}

TEST(IdxReaderTest, MissingFile) {
  const std::string missing = TempPath("does-not-exist.gz");
  const Pair pair = WritePair(ImagesBytes(3, 2, 3, kPixels), LabelsBytes(3, kLabels));
  absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, missing);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(set.status().message(), AllOf(HasSubstr(missing), HasSubstr("cannot open")));
}

TEST(IdxReaderTest, EmptyFile) {
  // Both an empty gzip stream and a zero-byte plain file.
  for (const bool gzip : {true, false}) {
    const Pair pair = WritePair("", LabelsBytes(3, kLabels), gzip);
    absl::StatusOr<LabeledImages> set = ReadIdxPair(pair.images, pair.labels);
    ASSERT_FALSE(set.ok()) << gzip;
    EXPECT_EQ(set.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(set.status().message(), AllOf(HasSubstr(pair.images), HasSubstr("file is empty")))
        << gzip;
  }
}

TEST(IdxReaderTest, LoadFashionMnistNamesMissingDirectory) {
  const std::string dir = TempPath("no-such-dir");
  absl::StatusOr<FashionMnist> data = LoadFashionMnist(dir);
  ASSERT_FALSE(data.ok());
  EXPECT_THAT(data.status().message(), HasSubstr(dir + "/train-images-idx3-ubyte.gz"));
}

TEST(IdxReaderTest, LoadsRealFashionMnist) {
  if (!std::filesystem::exists(kFashionMnistDir)) {
    GTEST_SKIP() << kFashionMnistDir << " is not installed (Debian: dataset-fashion-mnist)";
  }
  absl::StatusOr<FashionMnist> data = LoadFashionMnist();
  ASSERT_TRUE(data.ok()) << data.status();
  struct Expected {
    const LabeledImages* set;
    size_t size;
  };
  for (const Expected& e : {Expected{&data->train, 60000}, Expected{&data->test, 10000}}) {
    const LabeledImages& set = *e.set;
    ASSERT_EQ(set.size(), e.size);
    EXPECT_EQ(set.rows, 28);
    EXPECT_EQ(set.cols, 28);
    ASSERT_EQ(set.pixels.size(), e.size * 784);
    float lo = 1.0f, hi = 0.0f;
    for (float p : set.pixels) {
      lo = std::min(lo, p);
      hi = std::max(hi, p);
    }
    EXPECT_EQ(lo, 0.0f);
    EXPECT_EQ(hi, 1.0f);
    // Fashion-MNIST is balanced: every class has a tenth of the images.
    std::array<size_t, 10> per_class{};
    for (uint8_t label : set.labels) ++per_class[label];
    for (size_t c = 0; c < per_class.size(); ++c) EXPECT_EQ(per_class[c], e.size / 10) << c;
  }
}

}  // namespace
}  // namespace cosched::worker
