// File: bench/bench_options_test.cc
// The allreduce benchmark's two command lines: the user's (`cosched-bench allreduce`) and the
// one the launcher hands its ranks.
#include "bench/bench_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bench/allreduce_rank.h"
#include "bench/flags.h"
#include "bench/rank_options.h"

namespace cosched::bench {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<BenchOptions> ParseAllreduce(const std::vector<std::string>& args) {
  SubcommandFlags flags("allreduce");
  AllreduceFlags allreduce_flags(flags.parser());
  if (absl::Status status = flags.Parse(args); !status.ok()) return status;
  return allreduce_flags.Options();
}

TEST(BenchAllreduceOptionsTest, DefaultsAreBenchOptionsDefaults) {
  absl::StatusOr<BenchOptions> parsed = ParseAllreduce({});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const BenchOptions defaults;
  EXPECT_EQ(parsed->ranks, defaults.ranks);
  EXPECT_EQ(parsed->sizes, defaults.sizes);
  EXPECT_EQ(parsed->reps, defaults.reps);
  EXPECT_FALSE(parsed->json);
  EXPECT_TRUE(parsed->impls.empty());
  EXPECT_EQ(parsed->timing.min_time, defaults.timing.min_time);
  EXPECT_EQ(parsed->timing.min_iters, defaults.timing.min_iters);
  EXPECT_EQ(parsed->launch_timeout, defaults.launch_timeout);
  EXPECT_EQ(parsed->op_timeout, defaults.op_timeout);
}

TEST(BenchAllreduceOptionsTest, ReadsEveryFlag) {
  absl::StatusOr<BenchOptions> parsed =
      ParseAllreduce({"--ranks", "4", "--sizes", "64KiB,4KiB,64KiB", "--reps=3", "-o", "json",
                      "--impls", "cosched,gloo-ring", "--min-time", "10ms", "--min-iters", "2",
                      "--timeout", "1m", "--op-timeout", "5s"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ranks, 4);
  EXPECT_EQ(parsed->sizes, (std::vector<uint64_t>{4096, 65536}));  // sorted, once each
  EXPECT_EQ(parsed->reps, 3);
  EXPECT_TRUE(parsed->json);
  EXPECT_EQ(parsed->impls, (std::vector<std::string>{"cosched", "gloo-ring"}));
  EXPECT_EQ(parsed->timing.min_time, absl::Milliseconds(10));
  EXPECT_EQ(parsed->timing.min_iters, 2);
  EXPECT_EQ(parsed->launch_timeout, absl::Minutes(1));
  EXPECT_EQ(parsed->op_timeout, absl::Seconds(5));
  EXPECT_FALSE(ParseAllreduce({"--output", "table"})->json);
}

TEST(BenchAllreduceOptionsTest, ErrorsNameTheFlag) {
  EXPECT_THAT(ParseAllreduce({"--ranks", "x"}).status().message(),
              HasSubstr("--ranks: 'x' is not an integer"));
  EXPECT_THAT(ParseAllreduce({"--ranks", "0"}).status().message(),
              HasSubstr("--ranks: must be at least 1"));
  EXPECT_THAT(ParseAllreduce({"--reps", "0"}).status().message(), HasSubstr("--reps"));
  EXPECT_THAT(ParseAllreduce({"--min-iters", "0"}).status().message(), HasSubstr("--min-iters"));
  EXPECT_THAT(ParseAllreduce({"--sizes", "3"}).status().message(), HasSubstr("--sizes"));
  EXPECT_THAT(ParseAllreduce({"-o", "xml"}).status().message(),
              HasSubstr("'xml' is not 'json' or 'table'"));
  EXPECT_THAT(ParseAllreduce({"--impls", "nccl"}).status().message(), HasSubstr("--impls"));
  EXPECT_THAT(ParseAllreduce({"--timeout", "soon"}).status().message(), HasSubstr("--timeout"));
  EXPECT_THAT(ParseAllreduce({"--op-timeout", "0s"}).status().message(),
              HasSubstr("--op-timeout must be positive"));
  EXPECT_THAT(ParseAllreduce({"--rank", "1"}).status().message(), HasSubstr("unknown flag --rank"));
  EXPECT_THAT(ParseAllreduce({"4"}).status().message(), HasSubstr("unexpected argument '4'"));
}

TEST(BenchAllreduceOptionsTest, RankOptionsSurviveTheTripToTheRank) {
  RankOptions sent;
  sent.rank = 1;
  sent.ranks = 3;
  sent.dir = "/tmp/cosched-bench-x/round0-gloo";
  sent.launch_name = "gloo";
  sent.round = 2;
  sent.sizes = {4096, 1 << 20};
  sent.impls = {"cosched", "gloo-ring"};
  sent.timing.min_time = absl::Milliseconds(20);
  sent.timing.min_iters = 5;
  sent.op_timeout = absl::Seconds(7);
  absl::StatusOr<RankOptions> received = ParseRankOptions(ToRankArgs(sent), kGlooRankCommand);
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(received->rank, sent.rank);
  EXPECT_EQ(received->ranks, sent.ranks);
  EXPECT_EQ(received->dir, sent.dir);
  EXPECT_EQ(received->launch_name, sent.launch_name);
  EXPECT_EQ(received->round, sent.round);
  EXPECT_EQ(received->sizes, sent.sizes);
  EXPECT_EQ(received->impls, sent.impls);
  EXPECT_EQ(received->timing.min_time, sent.timing.min_time);
  EXPECT_EQ(received->timing.min_iters, sent.timing.min_iters);
  EXPECT_EQ(received->op_timeout, sent.op_timeout);
}

TEST(BenchAllreduceOptionsTest, RankCommandLinesAreChecked) {
  EXPECT_THAT(ParseRankOptions({"--rank", "0"}, kGlooRankCommand).status().message(),
              HasSubstr("needs --dir, --launch, --sizes and --impls"));
  const std::vector<std::string> base = {"--dir",   "/tmp/x", "--launch", "gloo",
                                         "--sizes", "4096",   "--impls",  "cosched"};
  std::vector<std::string> args = base;
  args.insert(args.end(), {"--rank", "2", "--ranks", "2"});
  EXPECT_THAT(ParseRankOptions(args, kGlooRankCommand).status().message(),
              HasSubstr("--rank: 2 is not below --ranks 2"));
  args = base;
  args.insert(args.end(), {"--round", "-1"});
  EXPECT_THAT(ParseRankOptions(args, kGlooRankCommand).status().message(),
              HasSubstr("--round: must be at least 0"));
  args = base;
  args.insert(args.end(), {"--colour", "red"});
  EXPECT_THAT(ParseRankOptions(args, kMpiRankCommand).status().message(),
              HasSubstr("cosched-bench allreduce-mpi-rank: unknown flag --colour"));
}

}  // namespace
}  // namespace cosched::bench
