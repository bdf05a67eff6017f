// File: bench/flags_test.cc
#include "bench/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched::bench {
namespace {

using ::testing::HasSubstr;

TEST(BenchFlagsTest, ParseReadsFlagsAndRefusesStrayArguments) {
  int64_t ranks = 2;
  SubcommandFlags flags("allreduce");
  flags.parser().Int("ranks", &ranks, "ranks");
  ASSERT_TRUE(flags.Parse({"--ranks=4"}).ok());
  EXPECT_EQ(ranks, 4);

  SubcommandFlags stray("allreduce");
  stray.parser().Int("ranks", &ranks, "ranks");
  const absl::Status status = stray.Parse({"--ranks", "2", "3"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("cosched-bench allreduce: unexpected argument '3'"));
}

TEST(BenchFlagsTest, ParseOrExitCodeGivesMainItsExitCode) {
  int64_t ranks = 2;
  SubcommandFlags help("allreduce");
  help.parser().Int("ranks", &ranks, "ranks");
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(help.ParseOrExitCode({"--help"}, "and more\n"), 0);
  const std::string usage = ::testing::internal::GetCapturedStdout();
  EXPECT_THAT(usage, HasSubstr("usage: cosched-bench allreduce [flags]"));
  EXPECT_THAT(usage, HasSubstr("--ranks"));
  EXPECT_THAT(usage, HasSubstr("and more"));

  SubcommandFlags bad("allreduce");
  bad.parser().Int("ranks", &ranks, "ranks");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(bad.ParseOrExitCode({"--ranks", "x"}), 2);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("--ranks: 'x' is not an integer"));

  SubcommandFlags good("allreduce");
  good.parser().Int("ranks", &ranks, "ranks");
  EXPECT_FALSE(good.ParseOrExitCode({"--ranks", "3"}).has_value());
  EXPECT_EQ(ranks, 3);
}

TEST(BenchFlagsTest, ValueErrorNamesTheSubcommand) {
  SubcommandFlags flags("allreduce");
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(flags.ValueError(absl::InvalidArgumentError("--ranks: must be at least 1, not 0")), 2);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(),
              HasSubstr("cosched-bench allreduce: --ranks: must be at least 1, not 0"));
}

TEST(BenchFlagsTest, IntAtLeastChecksBothEnds) {
  EXPECT_EQ(*IntAtLeast("--reps", 3, 1), 3);
  EXPECT_THAT(IntAtLeast("--reps", 0, 1).status().message(),
              HasSubstr("--reps: must be at least 1, not 0"));
  EXPECT_THAT(IntAtLeast("--reps", int64_t{1} << 40, 1).status().message(),
              HasSubstr("--reps: 1099511627776 is too large"));
}

TEST(BenchFlagsTest, SizeListsAreCheckedItemByItem) {
  EXPECT_EQ(*ParseSizeList("--sizes", "4KiB,1MiB,8", 4, 1 << 30),
            (std::vector<uint64_t>{4096, 1 << 20, 8}));
  EXPECT_THAT(ParseSizeList("--sizes", "4KiB,6", 4, 1 << 30).status().message(),
              HasSubstr("--sizes: size '6' must be a positive multiple of 4 bytes"));
  EXPECT_THAT(ParseSizeList("--sizes", "0", 4, 1 << 30).status().message(), HasSubstr("--sizes"));
  EXPECT_THAT(ParseSizeList("--sizes", "2GiB", 4, 1 << 30).status().message(),
              HasSubstr("at most 1GiB"));
  EXPECT_THAT(ParseSizeList("--sizes", "4KiB,lots", 4, 1 << 30).status().message(),
              HasSubstr("--sizes: "));
}

TEST(BenchFlagsTest, LinkRatesAreZeroOrAPositiveNumberOfMbit) {
  EXPECT_EQ(*ParseLinkRate("--link-mbit", "0"), 0);
  EXPECT_EQ(*ParseLinkRate("--link-mbit", "100"), 100);
  EXPECT_EQ(*ParseLinkRate("--link-mbit", "2.5"), 2.5);
  EXPECT_THAT(ParseLinkRate("--link-mbit", "fast").status().message(),
              HasSubstr("--link-mbit: 'fast' is not a number of Mbit/s"));
  EXPECT_THAT(ParseLinkRate("--link-mbit", "").status().message(), HasSubstr("--link-mbit"));
  EXPECT_THAT(ParseLinkRate("--link-mbit", "inf").status().message(), HasSubstr("is not a number"));
  EXPECT_THAT(ParseLinkRate("--link-mbit", "nan").status().message(), HasSubstr("is not a number"));
  EXPECT_THAT(ParseLinkRate("--link-mbit", "-1").status().message(),
              HasSubstr("--link-mbit: must be 0 (unshaped) or at least 0.001 Mbit/s, not -1"));
  EXPECT_THAT(ParseLinkRate("--link-mbit", "0.0001").status().message(),
              HasSubstr("at least 0.001"));
}

TEST(BenchFlagsTest, NameListsHaveNoEmptyItems) {
  EXPECT_EQ(*ParseNameList("--impls", "cosched,gloo-ring"),
            (std::vector<std::string>{"cosched", "gloo-ring"}));
  EXPECT_TRUE(ParseNameList("--impls", "")->empty());
  EXPECT_THAT(ParseNameList("--impls", "cosched,,gloo-ring").status().message(),
              HasSubstr("--impls: empty item"));
}

}  // namespace
}  // namespace cosched::bench
