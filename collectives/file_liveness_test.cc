// FileLiveness with real processes: a lock held by a child is seen as alive until the child is
// killed with SIGKILL, and as ended right after.
#include "collectives/file_liveness.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

namespace cosched::collectives {
namespace {

using ::testing::HasSubstr;

class FileLivenessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/file_liveness_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    auto store = FileStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::unique_ptr<FileStore> store_;
};

TEST_F(FileLivenessTest, AProcessThatNeverAnnouncedHasEnded) {
  FileLiveness liveness(store_.get(), "j");
  auto ended = liveness.Ended(3);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(*ended);
}

TEST_F(FileLivenessTest, AnAnnouncedProcessIsAliveUntilItLetsGo) {
  {
    FileLiveness holder(store_.get(), "j");
    ASSERT_TRUE(holder.Announce(0).ok());
    FileLiveness observer(store_.get(), "j");
    auto ended = observer.Ended(0);
    ASSERT_TRUE(ended.ok()) << ended.status();
    EXPECT_FALSE(*ended);
    // Asking does not take the lock away from its holder.
    EXPECT_FALSE(observer.Ended(0).value_or(true));
    // Another job's process 0 is someone else.
    EXPECT_TRUE(FileLiveness(store_.get(), "k").Ended(0).value_or(false));
  }
  EXPECT_TRUE(FileLiveness(store_.get(), "j").Ended(0).value_or(false));
}

TEST_F(FileLivenessTest, TwoClaimsOnOneProcessNumberAreRefused) {
  FileLiveness first(store_.get(), "j");
  ASSERT_TRUE(first.Announce(1).ok());
  FileLiveness second(store_.get(), "j");
  const absl::Status status = second.Announce(1);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(status.message(), HasSubstr("two processes were given one rank"));
}

TEST_F(FileLivenessTest, AProcessKilledWithSigkillHasEndedAtOnce) {
  auto holder = std::make_unique<FileLiveness>(store_.get(), "j");
  ASSERT_TRUE(holder->Announce(2).ok());
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // shares the locked file description; holds it until killed
    while (true) ::pause();
  }
  holder.reset();  // only the child holds the lock now
  FileLiveness observer(store_.get(), "j");
  EXPECT_FALSE(observer.Ended(2).value_or(true));
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  auto ended = observer.Ended(2);
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(*ended);
}

}  // namespace
}  // namespace cosched::collectives
