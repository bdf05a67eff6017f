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
  EXPECT_EQ(parsed->hosts, 1);
  EXPECT_EQ(parsed->link_mbit, 0);
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

TEST(BenchAllreduceOptionsTest, ReadsHostsAndLinkRate) {
  absl::StatusOr<BenchOptions> parsed =
      ParseAllreduce({"--ranks", "4", "--hosts", "2", "--link-mbit", "250.5"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ranks, 4);
  EXPECT_EQ(parsed->hosts, 2);
  EXPECT_EQ(parsed->link_mbit, 250.5);
  parsed = ParseAllreduce({"--ranks", "3", "--hosts=3"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->hosts, 3);
  EXPECT_EQ(parsed->link_mbit, 0);  // unshaped
}

TEST(BenchAllreduceOptionsTest, HostErrorsNameTheFlags) {
  EXPECT_THAT(ParseAllreduce({"--hosts", "two"}).status().message(),
              HasSubstr("--hosts: 'two' is not an integer"));
  EXPECT_THAT(ParseAllreduce({"--hosts", "0"}).status().message(),
              HasSubstr("--hosts: must be at least 1"));
  const absl::Status too_few = ParseAllreduce({"--ranks", "2", "--hosts", "3"}).status();
  EXPECT_EQ(too_few.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_few.message(),
              HasSubstr("--ranks 2 is fewer than --hosts 3: every host needs at least one rank"));
  EXPECT_THAT(ParseAllreduce({"--hosts", "2", "--link-mbit", "fast"}).status().message(),
              HasSubstr("--link-mbit: 'fast' is not a number"));
  EXPECT_THAT(ParseAllreduce({"--hosts", "2", "--link-mbit", "-5"}).status().message(),
              HasSubstr("--link-mbit: must be 0 (unshaped)"));
  // Shaping needs links between hosts to shape.
  EXPECT_THAT(ParseAllreduce({"--link-mbit", "100"}).status().message(),
              HasSubstr("--link-mbit shapes the links between emulated hosts: it needs --hosts 2"));
}

TEST(BenchAllreduceOptionsTest, MpiSharedMemoryIsNamedForWhatItIsAcrossHosts) {
  // On one machine mpi-shm is vader alone; across hosts it is vader plus TCP, and so named.
  EXPECT_TRUE(ParseAllreduce({"--impls", "mpi-shm"}).ok());
  EXPECT_THAT(ParseAllreduce({"--impls", "mpi-shm+tcp"}).status().message(),
              HasSubstr("--impls: 'mpi-shm+tcp' is not an implementation available with 2 ranks"));
  absl::StatusOr<BenchOptions> parsed =
      ParseAllreduce({"--hosts", "2", "--impls", "mpi-shm+tcp,mpi-tcp"});
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->impls, (std::vector<std::string>{"mpi-shm+tcp", "mpi-tcp"}));
  EXPECT_THAT(ParseAllreduce({"--hosts", "2", "--impls", "mpi-shm"}).status().message(),
              HasSubstr("'mpi-shm' is not an implementation available with 2 ranks on 2 hosts"));
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
  sent.advertise_address = "198.18.7.2";
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
  EXPECT_EQ(received->advertise_address, sent.advertise_address);
}

TEST(BenchAllreduceOptionsTest, RanksAdvertiseLoopbackUnlessTold) {
  RankOptions sent;
  sent.dir = "/tmp/x";
  sent.launch_name = "gloo";
  sent.sizes = {4096};
  sent.impls = {"cosched"};
  absl::StatusOr<RankOptions> received = ParseRankOptions(ToRankArgs(sent), kGlooRankCommand);
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_EQ(received->advertise_address, "127.0.0.1");
  std::vector<std::string> args = ToRankArgs(sent);
  args.insert(args.end(), {"--advertise-address", ""});
  EXPECT_THAT(ParseRankOptions(args, kGlooRankCommand).status().message(),
              HasSubstr("--advertise-address: must not be empty"));
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
