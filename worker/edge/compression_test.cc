#include "worker/edge/compression.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace cosched::worker::edge {
namespace {

using ::testing::HasSubstr;

std::vector<float> RoundTrip(Compression compression, const std::vector<float>& values) {
  const std::string bytes = Compress(compression, values);
  EXPECT_EQ(bytes.size(), CompressedBytes(compression, values.size()));
  std::vector<float> out(values.size(), -1.0f);
  const absl::Status decoded = Decompress(compression, bytes, absl::MakeSpan(out), "test");
  EXPECT_TRUE(decoded.ok()) << decoded;
  return out;
}

// The largest magnitude of the chunk that holds value i.
float ChunkScale(const std::vector<float>& values, size_t i) {
  const size_t begin = i / kCompressionChunk * kCompressionChunk;
  float scale = 0;
  for (size_t j = begin; j < std::min(values.size(), begin + kCompressionChunk); ++j) {
    scale = std::max(scale, std::fabs(values[j]));
  }
  return scale;
}

TEST(CompressionTest, NamesAndSizes) {
  for (Compression c : {Compression::kNone, Compression::kFp16, Compression::kInt8}) {
    auto parsed = ParseCompression(CompressionName(c));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, c);
  }
  EXPECT_THAT(ParseCompression("int4").status().message(), HasSubstr("none, fp16 or int8"));
  // 1000 values are 2 chunks: a scale each, then the codes.
  EXPECT_EQ(CompressedBytes(Compression::kNone, 1000), 4000u);
  EXPECT_EQ(CompressedBytes(Compression::kFp16, 1000), 2 * 4 + 2000u);
  EXPECT_EQ(CompressedBytes(Compression::kInt8, 1000), 2 * 4 + 1000u);
  EXPECT_EQ(CompressedBytes(Compression::kInt8, 0), 0u);
}

TEST(CompressionTest, RoundTripsWithinHalfAGridStepOfEachChunk) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> values(3000);
  for (size_t i = 0; i < values.size(); ++i) {
    // Chunks of very different magnitudes, as layers' gradients are.
    values[i] = normal(rng) * std::pow(10.0f, static_cast<float>(i / kCompressionChunk) - 3);
  }
  EXPECT_EQ(RoundTrip(Compression::kNone, values), values);
  const std::vector<float> int8 = RoundTrip(Compression::kInt8, values);
  const std::vector<float> fp16 = RoundTrip(Compression::kFp16, values);
  for (size_t i = 0; i < values.size(); ++i) {
    const float m = ChunkScale(values, i);
    EXPECT_LE(std::fabs(int8[i] - values[i]), m / 254 * 1.0001f) << i;
    EXPECT_LE(std::fabs(fp16[i] - values[i]), m * std::ldexp(1.0f, -11)) << i;
  }
}

TEST(CompressionTest, ZerosAndConstantsSurviveExactly) {
  for (Compression c : {Compression::kFp16, Compression::kInt8}) {
    for (float constant : {0.0f, 0.1f, -3.7f, 1e-30f, 6.5e4f, 3e38f}) {
      const std::vector<float> values(1000, constant);  // a full chunk and a partial one
      EXPECT_EQ(RoundTrip(c, values), values) << CompressionName(c) << " " << constant;
    }
  }
}

TEST(CompressionTest, Fp16KeepsEveryValueItCanRepresentExactly) {
  // Every non-negative binary16 value up to 1, in chunks whose largest value is 1 (so each
  // value travels as itself), subnormals included.
  std::vector<float> values;
  for (uint16_t half = 0; half <= 0x3C00; ++half) {
    if (values.size() % kCompressionChunk == 0) values.push_back(1.0f);
    const int exponent = (half >> 10) & 0x1F;
    const float mantissa = static_cast<float>(half & 0x3FF);
    values.push_back(exponent == 0 ? std::ldexp(mantissa, -24)
                                   : std::ldexp(mantissa + 1024, exponent - 25));
  }
  EXPECT_EQ(RoundTrip(Compression::kFp16, values), values);
}

TEST(CompressionTest, AChunkWithNaNOrInfinityComesBackAsNaNAndTheOthersIntact) {
  for (Compression c : {Compression::kFp16, Compression::kInt8}) {
    for (float poison :
         {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      std::vector<float> values(2 * kCompressionChunk, 0.5f);
      values[3] = poison;
      const std::vector<float> out = RoundTrip(c, values);
      for (size_t i = 0; i < kCompressionChunk; ++i) EXPECT_TRUE(std::isnan(out[i])) << i;
      for (size_t i = kCompressionChunk; i < out.size(); ++i) EXPECT_EQ(out[i], 0.5f) << i;
    }
  }
}

TEST(CompressionTest, BytesOfTheWrongLengthAreDataLossNamingTheSource) {
  std::vector<float> out(1000);
  const absl::Status status =
      Decompress(Compression::kInt8, std::string(1007, '\0'), absl::MakeSpan(out), "vehicle v-3");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(),
              HasSubstr("vehicle v-3: 1007 bytes of int8 for 1000 values, which take 1008"));
}

}  // namespace
}  // namespace cosched::worker::edge
