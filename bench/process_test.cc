// File: bench/process_test.cc
#include "bench/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace cosched::bench {
namespace {

using ::testing::HasSubstr;

ChildSpec Shell(std::string name, std::string script) {
  return {std::move(name), {"/bin/sh", "-c", std::move(script)}};
}

TEST(BenchRunChildrenTest, SucceedsWhenEveryChildDoes) {
  EXPECT_TRUE(
      RunChildren({Shell("first", "exit 0"), Shell("second", "true")}, absl::Minutes(1)).ok());
}

TEST(BenchRunChildrenTest, AFailedChildIsNamedAndStopsTheOthers) {
  // The sleeper would outlast the test's own timeout if it were not stopped.
  const absl::Status status = RunChildren(
      {Shell("sleeper", "exec sleep 600"), Shell("rank 1", "exit 3")}, absl::Minutes(10));
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(status.message(), HasSubstr("rank 1 (pid "));
  EXPECT_THAT(status.message(), HasSubstr("exited with status 3"));
}

TEST(BenchRunChildrenTest, AChildKilledByASignalIsNamed) {
  const absl::Status status = RunChildren({Shell("victim", "kill -9 $$")}, absl::Minutes(1));
  EXPECT_THAT(status.message(), HasSubstr("victim (pid "));
  EXPECT_THAT(status.message(), HasSubstr("killed by signal 9"));
}

TEST(BenchRunChildrenTest, TheTimeoutStopsAHungChild) {
  const absl::Status status =
      RunChildren({Shell("done", "true"), Shell("hung", "exec sleep 600")}, absl::Seconds(1));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("hung (pid "));
  EXPECT_THAT(status.message(), ::testing::Not(HasSubstr("done")));
  EXPECT_THAT(status.message(), HasSubstr("--timeout"));
}

TEST(BenchRunChildrenTest, AMissingProgramIsNamed) {
  const absl::Status status = RunChildren(
      {Shell("fine", "exec sleep 600"), {"rank 0", {"/nonexistent/rank"}}}, absl::Minutes(10));
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("rank 0: cannot start /nonexistent/rank"));
}

TEST(BenchRunChildrenTest, ChildrenPrintToOurStderrNotOurStdout) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const absl::Status status = RunChildren({Shell("talker", "echo hello")}, absl::Minutes(1));
  const std::string our_stdout = ::testing::internal::GetCapturedStdout();
  const std::string our_stderr = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(our_stdout, "");
  EXPECT_THAT(our_stderr, HasSubstr("hello"));
}

TEST(BenchTempDirTest, IsRemovedWithItsContents) {
  std::string path;
  {
    absl::StatusOr<TempDir> dir = TempDir::Create("cosched-bench-test");
    ASSERT_TRUE(dir.ok()) << dir.status();
    path = dir->path();
    std::filesystem::create_directories(path + "/round0");
    EXPECT_TRUE(std::filesystem::is_directory(path + "/round0"));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace cosched::bench
