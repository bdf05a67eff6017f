// File: tests/cross_host_bench_test.cc
// `cosched-bench allreduce --hosts 2` as a user runs it: a real process that creates two
// emulated hosts (tests/support/test_hosts.h), runs gloo ranks inside them and mpirun across
// them, and prints one JSON line per implementation and size. Also: without root the run
// fails at once with an error that names --hosts and says why. Needs root (the first test
// skips without it, and fails under CI).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_hosts.h"

namespace cosched {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

struct Finished {
  int exit_code = -1;
  std::string out;  // stdout, plus stderr when merged
};

// Runs `argv` to completion with a generous deadline (namespaces, ranks and mpirun start in
// a few seconds; the machine may be busy with other builds).
Finished RunToCompletion(const std::vector<std::string>& argv, bool merge_stderr) {
  Subprocess::Options options;
  options.merge_stderr = merge_stderr;
  options.null_stdin = true;
  auto process = Subprocess::Spawn(argv, options);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return {};
  const absl::Time deadline = absl::Now() + absl::Minutes(4);
  Finished run;
  auto out = (*process)->ReadAll(deadline);
  EXPECT_TRUE(out.ok()) << out.status();
  if (out.ok()) run.out = *out;
  auto exit_code = (*process)->Wait(deadline);
  EXPECT_TRUE(exit_code.ok()) << exit_code.status();
  if (exit_code.ok()) run.exit_code = *exit_code;
  return run;
}

TEST(CrossHostBenchTest, AllreduceAcrossTwoHostsReportsEveryImplementation) {
  COSCHED_REQUIRE_TEST_HOSTS();
  // stderr (the launcher's progress log) stays out of the JSON on stdout.
  const Finished run =
      RunToCompletion({COSCHED_BENCH_BINARY, "allreduce", "--hosts", "2", "--ranks", "2", "--sizes",
                       "4KiB", "--reps", "1", "--impls", "cosched,gloo-ring,mpi-tcp", "-o", "json"},
                      /*merge_stderr=*/false);
  ASSERT_EQ(run.exit_code, 0) << run.out;

  std::set<std::string> impls;
  for (absl::string_view line : absl::StrSplit(run.out, '\n', absl::SkipEmpty())) {
    const json row = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(row.is_object()) << "not a JSON object: " << line;
    EXPECT_EQ(row.value("hosts", -1), 2) << line;
    EXPECT_EQ(row.value("ranks", -1), 2) << line;
    EXPECT_EQ(row.value("size_bytes", -1), 4096) << line;
    EXPECT_EQ(row.value("reps", -1), 1) << line;
    EXPECT_GT(row.value("busbw_gbps", 0.0), 0) << line;
    EXPECT_GT(row.value("median_seconds", 0.0), 0) << line;
    impls.insert(row.value("impl", ""));
  }
  EXPECT_EQ(impls, (std::set<std::string>{"cosched", "gloo-ring", "mpi-tcp"})) << run.out;
}

// `cosched-bench edge`, shortened: the edge tier and the data-center-only way on emulated
// hosts, one epoch to a low target. Every measure of the edge way is there and plausible; the
// data-center way has no vehicles to measure.
TEST(CrossHostBenchTest, EdgeBenchMeasuresEachWayOnEmulatedHosts) {
  COSCHED_REQUIRE_TEST_HOSTS();
  const Finished run =
      RunToCompletion({COSCHED_BENCH_BINARY, "edge", "--vehicles", "2", "--epochs", "1", "--target",
                       "0.5", "--ways", "edge,datacenter", "--max-seconds", "120",
                       "--scheduler-config", COSCHED_SCHEDULER_CONFIG, "-o", "json"},
                      /*merge_stderr=*/false);
  ASSERT_EQ(run.exit_code, 0) << run.out;
  std::map<std::string, json> ways;
  for (absl::string_view line : absl::StrSplit(run.out, '\n', absl::SkipEmpty())) {
    const json row = json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(row.is_object()) << "not a JSON object: " << line;
    ways[row.value("way", "")] = row;
  }
  ASSERT_EQ(ways.size(), 2u) << run.out;
  const json& edge = ways["edge"];
  EXPECT_GT(edge.value("seconds_to_target", 0.0), 0) << edge;
  EXPECT_GE(edge.value("final_accuracy", 0.0), 0.5) << edge;
  EXPECT_GT(edge.value("vehicle_bytes_per_1000_samples", 0.0), 0) << edge;
  const double utilisation = edge.value("vehicle_utilisation", 0.0);
  EXPECT_GT(utilisation, 0) << edge;
  EXPECT_LT(utilisation, 1.5) << edge;  // CPU used over the quotas' CPU: about 1 at most
  const json& datacenter = ways["datacenter"];
  EXPECT_GT(datacenter.value("seconds_to_target", 0.0), 0) << datacenter;
  EXPECT_TRUE(datacenter["vehicle_bytes_per_1000_samples"].is_null()) << datacenter;
  EXPECT_EQ(datacenter.value("vehicle_hosts", -1), 0) << datacenter;
}

TEST(CrossHostBenchTest, EdgeBenchNamesAnUnknownWay) {
  const Finished run = RunToCompletion({COSCHED_BENCH_BINARY, "edge", "--ways", "edge,bogus"},
                                       /*merge_stderr=*/true);
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_THAT(run.out, HasSubstr("unknown way 'bogus'")) << run.out;
}

TEST(CrossHostBenchTest, WithoutRootHostsFailSayingWhy) {
  std::vector<std::string> argv = {COSCHED_BENCH_BINARY,
                                   "allreduce",
                                   "--hosts",
                                   "2",
                                   "--ranks",
                                   "2",
                                   "--sizes",
                                   "4KiB",
                                   "--reps",
                                   "1",
                                   "--impls",
                                   "cosched"};
  if (::geteuid() == 0) {
    // Drop root for the child only, as an unprivileged user would run it.
    argv.insert(argv.begin(), {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "--inh-caps=-all", "--"});
  }
  const Finished run = RunToCompletion(argv, /*merge_stderr=*/true);
  EXPECT_EQ(run.exit_code, 1) << run.out;
  EXPECT_THAT(run.out, HasSubstr("--hosts 2"));
  EXPECT_THAT(run.out, HasSubstr("needs root"));
}

}  // namespace
}  // namespace cosched
