// File: tools/coschedctl/image_input_test.cc
// ParseImage: raw 784-byte images and 28x28 binary PGMs are accepted (PGM comments and
// maxval rescaling included); every other file is refused with a message saying why.
#include "tools/coschedctl/image_input.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace cosched::coschedctl {
namespace {

using ::testing::HasSubstr;

std::string Pixels(size_t n, char value) { return std::string(n, value); }

TEST(ImageInputTest, RawBytes) {
  const std::string raw = Pixels(kImageBytes, '\x10');
  auto image = ParseImage("raw.bin", raw);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(*image, raw);
}

TEST(ImageInputTest, BinaryPgmWithComment) {
  const std::string pgm = "P5\n# made by a test\n28 28\n255\n" + Pixels(kImageBytes, '\x7f');
  auto image = ParseImage("a.pgm", pgm);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(*image, Pixels(kImageBytes, '\x7f'));
}

TEST(ImageInputTest, PgmMaxvalIsRescaled) {
  const std::string pgm = "P5 28 28 15\n" + Pixels(kImageBytes, '\x0f');
  auto image = ParseImage("a.pgm", pgm);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(*image, Pixels(kImageBytes, '\xff'));
}

TEST(ImageInputTest, WrongPgmSize) {
  auto image = ParseImage("big.pgm", "P5\n32 32\n255\n" + Pixels(32 * 32, '\0'));
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(image.status().message(), HasSubstr("'big.pgm'"));
  EXPECT_THAT(image.status().message(), HasSubstr("32x32"));
  EXPECT_THAT(image.status().message(), HasSubstr("28x28"));
}

TEST(ImageInputTest, TruncatedPgm) {
  auto image = ParseImage("cut.pgm", "P5\n28 28\n255\n" + Pixels(700, '\0'));
  ASSERT_FALSE(image.ok());
  EXPECT_THAT(image.status().message(), HasSubstr("700 bytes"));
  EXPECT_THAT(image.status().message(), HasSubstr("784"));
}

TEST(ImageInputTest, SixteenBitPgm) {
  auto image = ParseImage("deep.pgm", "P5\n28 28\n65535\n" + Pixels(2 * kImageBytes, '\0'));
  ASSERT_FALSE(image.ok());
  EXPECT_THAT(image.status().message(), HasSubstr("maxval 65535"));
}

TEST(ImageInputTest, IncompleteHeaderAndPixelAboveMaxval) {
  EXPECT_THAT(ParseImage("h.pgm", "P5\n28 28\n").status().message(), HasSubstr("incomplete"));
  std::string pixels = Pixels(kImageBytes, '\x01');
  pixels[5] = '\x09';
  EXPECT_THAT(ParseImage("m.pgm", "P5 28 28 4\n" + pixels).status().message(),
              HasSubstr("pixel 5 is 9, above maxval 4"));
}

TEST(ImageInputTest, OtherFiles) {
  auto ascii = ParseImage("a.pgm", "P2\n28 28\n255\n0 0 0\n");
  EXPECT_THAT(ascii.status().message(), HasSubstr("P2"));
  auto wrong = ParseImage("x.bin", Pixels(100, '\0'));
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("100 bytes"));
  EXPECT_THAT(wrong.status().message(), HasSubstr("784 raw bytes"));
  EXPECT_EQ(ReadImageFile("/nonexistent/image.bin").status().code(), absl::StatusCode::kNotFound);
}

TEST(ImageInputTest, ClassNames) {
  EXPECT_EQ(FashionMnistClassName(0), "T-shirt/top");
  EXPECT_EQ(FashionMnistClassName(9), "Ankle boot");
  EXPECT_EQ(FashionMnistClassName(12), "class 12");
}

}  // namespace
}  // namespace cosched::coschedctl
