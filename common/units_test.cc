#include "common/units.h"

#include <gtest/gtest.h>

namespace cosched {
namespace {

TEST(UnitsTest, ParsesByteSizes) {
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("4KiB"), 4096u);
  EXPECT_EQ(*ParseByteSize("64MiB"), 64u << 20);
  EXPECT_EQ(*ParseByteSize("1GB"), 1000000000u);
  EXPECT_EQ(*ParseByteSize("0B"), 0u);
}

TEST(UnitsTest, RejectsBadByteSizes) {
  for (const char* bad : {"", "KiB", "-4KiB", "4 KiB", "4kib", "x", "99999999999999999999"}) {
    const auto parsed = ParseByteSize(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
  }
  EXPECT_NE(ParseByteSize("12XB").status().message().find("not a byte size"), std::string::npos);
}

TEST(UnitsTest, FormatsByteSizes) {
  EXPECT_EQ(FormatByteSize(4096), "4KiB");
  EXPECT_EQ(FormatByteSize(64u << 20), "64MiB");
  EXPECT_EQ(FormatByteSize(1000), "1000B");
  EXPECT_EQ(FormatByteSize(0), "0B");
}

TEST(UnitsTest, ParsesDurations) {
  EXPECT_EQ(*ParseDuration("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseDuration("250ms"), absl::Milliseconds(250));
  EXPECT_FALSE(ParseDuration("soon").ok());
  EXPECT_FALSE(ParseDuration("-1s").ok());
  EXPECT_FALSE(ParseDuration("inf").ok());
}

}  // namespace
}  // namespace cosched
