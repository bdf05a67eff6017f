#include "common/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

namespace cosched {
namespace {

absl::Time Soon() { return absl::Now() + absl::Seconds(20); }

TEST(SubprocessTest, ReadsLinesAndExitCode) {
  auto child = Subprocess::Spawn({"/bin/sh", "-c", "echo one; echo two; exit 3"});
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(*(*child)->ReadLine(Soon()), "one");
  EXPECT_EQ(*(*child)->ReadLine(Soon()), "two");
  EXPECT_EQ((*child)->ReadLine(Soon()).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(*(*child)->Wait(Soon()), 3);
}

TEST(SubprocessTest, KillIsReportedAsSignal) {
  auto child = Subprocess::Spawn({"/bin/sh", "-c", "echo up; exec sleep 60"});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(*(*child)->ReadLine(Soon()), "up");
  EXPECT_EQ((*child)->Wait(absl::Now()).status().code(), absl::StatusCode::kDeadlineExceeded);
  (*child)->Kill(SIGKILL);
  EXPECT_EQ(*(*child)->Wait(Soon()), 128 + SIGKILL);
}

TEST(SubprocessTest, ReadLineHasADeadline) {
  auto child = Subprocess::Spawn({"/bin/sh", "-c", "exec sleep 60"});
  ASSERT_TRUE(child.ok());
  EXPECT_EQ((*child)->ReadLine(absl::Now() + absl::Milliseconds(50)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  // The destructor kills and reaps it.
}

TEST(SubprocessTest, ExtraEnvironmentReachesTheChild) {
  Subprocess::Options options;
  options.extra_env = {"COSCHED_TEST_VALUE=42"};
  auto child = Subprocess::Spawn({"/bin/sh", "-c", "echo $COSCHED_TEST_VALUE"}, options);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(*(*child)->ReadLine(Soon()), "42");
}

TEST(SubprocessTest, MissingProgramIsAnError) {
  EXPECT_EQ(Subprocess::Spawn({"/nonexistent/program"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SubprocessTest, ReadAllReturnsEverythingWithStderrMergedAndNoStdin) {
  Subprocess::Options options;
  options.merge_stderr = true;
  options.null_stdin = true;
  auto child = Subprocess::Spawn(
      {"/bin/sh", "-c", "echo out; echo err >&2; cat; printf 'no newline'"}, options);
  ASSERT_TRUE(child.ok()) << child.status();
  // `cat` reads /dev/null, so it ends at once instead of waiting for our stdin.
  auto all = (*child)->ReadAll(absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, "out\nerr\nno newline");
  EXPECT_EQ(*(*child)->Wait(absl::Now() + absl::Seconds(30)), 0);
}

TEST(SubprocessTest, ReadAllPastTheDeadlineSaysWhatItRead) {
  auto child = Subprocess::Spawn({"/bin/sh", "-c", "printf 'line\\npartial'; exec sleep 60"});
  ASSERT_TRUE(child.ok()) << child.status();
  // One write: once its first line is read, the rest sits in the buffer.
  ASSERT_EQ(*(*child)->ReadLine(Soon()), "line");
  // The child never closes stdout: the deadline ends the read, which names what came.
  auto all = (*child)->ReadAll(absl::Now());
  EXPECT_EQ(all.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(all.status().message()), ::testing::HasSubstr("partial"));
}

}  // namespace
}  // namespace cosched
