#include "common/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

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

TEST(SubprocessTest, StdoutCanGoToOurStderr) {
  Subprocess::Options options;
  options.capture_stdout = false;
  options.stdout_to_stderr = true;
  // gtest captures at the descriptor level, so it sees what the child writes to fds 1 and 2.
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  auto child = Subprocess::Spawn({"/bin/sh", "-c", "echo result-or-log"}, options);
  const absl::StatusOr<int> exit_code =
      child.ok() ? (*child)->Wait(Soon()) : absl::StatusOr<int>(child.status());
  const std::string our_stdout = ::testing::internal::GetCapturedStdout();
  const std::string our_stderr = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  EXPECT_EQ(our_stdout, "");
  EXPECT_EQ(our_stderr, "result-or-log\n");
}

TEST(SubprocessTest, StdoutGoesToOnePlaceOnly) {
  Subprocess::Options options;  // capture_stdout is the default
  options.stdout_to_stderr = true;
  const auto child = Subprocess::Spawn({"/bin/true"}, options);
  EXPECT_EQ(child.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(child.status().message()), ::testing::HasSubstr("stdout_to_stderr"));
}

TEST(SubprocessTest, ParentDeathSignalArrivesWhenTheSpawningThreadEnds) {
  // Linux sends the signal when the thread that spawned the child ends, so a thread that
  // spawns and returns stands in for a launcher that dies. Spawn returns only once the child
  // has exec'd, after its prctl: the thread cannot end before the signal is armed.
  Subprocess::Options options;
  options.parent_death_signal = SIGTERM;
  absl::StatusOr<std::unique_ptr<Subprocess>> child = absl::UnknownError("not spawned");
  std::thread spawner([&] {
    child = Subprocess::Spawn({"/bin/sh", "-c", "exec sleep 60"}, options);
  });
  spawner.join();
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_EQ(*(*child)->Wait(Soon()), 128 + SIGTERM);
}

TEST(SubprocessTest, ParentDeathSignalKeepsTheOtherOptions) {
  // That option starts the child with fork + exec instead of posix_spawn; the rest must hold.
  Subprocess::Options options;
  options.parent_death_signal = SIGKILL;
  options.merge_stderr = true;
  options.null_stdin = true;
  options.extra_env = {"COSCHED_TEST_VALUE=42"};
  auto child = Subprocess::Spawn(
      {"sh", "-c", "echo $COSCHED_TEST_VALUE; echo err >&2; cat; exit 5"}, options);
  ASSERT_TRUE(child.ok()) << child.status();
  auto all = (*child)->ReadAll(Soon());
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, "42\nerr\n");
  EXPECT_EQ(*(*child)->Wait(Soon()), 5);

  EXPECT_EQ(Subprocess::Spawn({"/nonexistent/program"}, options).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cosched
