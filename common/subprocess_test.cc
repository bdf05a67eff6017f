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

}  // namespace
}  // namespace cosched
