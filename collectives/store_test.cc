// One test suite shared by every KeyValueStore that runs in a single process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <stop_token>
#include <thread>

#include "collectives/file_store.h"
#include "collectives/memory_store.h"
#include "common/rendezvous_keys.h"

namespace cosched::collectives {
namespace {

using ::testing::HasSubstr;

std::vector<char> Bytes(absl::string_view s) { return std::vector<char>(s.begin(), s.end()); }

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      store_ = std::make_unique<InMemoryStore>();
    } else {
      dir_ = ::testing::TempDir() + "/store_test_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::filesystem::remove_all(dir_);
      auto store = FileStore::Open(dir_);
      ASSERT_TRUE(store.ok()) << store.status();
      store_ = *std::move(store);
    }
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<KeyValueStore> store_;
  std::string dir_;
};

TEST_P(StoreTest, SetThenGet) {
  ASSERT_TRUE(store_->Set("job/a/gen/0/0", Bytes("hello")).ok());
  auto value = store_->Get("job/a/gen/0/0", absl::Seconds(1));
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, Bytes("hello"));
}

TEST_P(StoreTest, EmptyValuesAndOverwrites) {
  ASSERT_TRUE(store_->Set("k", {}).ok());
  EXPECT_TRUE(store_->Get("k", absl::Seconds(1))->empty());
  ASSERT_TRUE(store_->Set("k", Bytes("v2")).ok());
  EXPECT_EQ(*store_->Get("k", absl::Seconds(1)), Bytes("v2"));
}

TEST_P(StoreTest, WaitSeesAKeySetLaterByAnotherThread) {
  std::thread writer([&] { ASSERT_TRUE(store_->Set("late/key", Bytes("x")).ok()); });
  EXPECT_TRUE(store_->Wait({"late/key"}, absl::Seconds(30)).ok());
  writer.join();
}

TEST_P(StoreTest, WaitTimesOutNamingTheMissingKeys) {
  ASSERT_TRUE(store_->Set("present", Bytes("x")).ok());
  const absl::Status status = store_->Wait({"present", "absent/1"}, absl::Milliseconds(50));
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("absent/1"));
  EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr("present,")));
}

TEST_P(StoreTest, AWaitThatCanBeStoppedTimesOutNamingItsWholeWait) {
  std::stop_source never_stopped;
  const absl::Status status = store_->WaitUnlessStopped(
      {"absent/1"}, 3 * KeyValueStore::kStopCheckInterval + absl::Milliseconds(10),
      never_stopped.get_token());
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(status.message(), HasSubstr("nothing within 160ms"));
  EXPECT_THAT(status.message(), HasSubstr("absent/1"));
}

TEST_P(StoreTest, AStoppedWaitEndsCancelled) {
  std::stop_source stop;
  stop.request_stop();
  const absl::Status status =
      store_->WaitUnlessStopped({"absent/1"}, absl::Seconds(30), stop.get_token());
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(status.message(), HasSubstr("membership moved on"));
}

TEST_P(StoreTest, GenerationsDoNotShareKeys) {
  ASSERT_TRUE(store_->Set(GenerationPrefix("j", 1) + "0", Bytes("old")).ok());
  EXPECT_EQ(GenerationPrefix("j", 2), "job/j/gen/2/");
  EXPECT_FALSE(store_->Wait({GenerationPrefix("j", 2) + "0"}, absl::Milliseconds(20)).ok());
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreTest, ::testing::Values("memory", "file"));

TEST(FileStoreTest, KeysWithSlashesAndPercentsStayDistinct) {
  const std::string dir = ::testing::TempDir() + "/file_store_escape";
  std::filesystem::remove_all(dir);
  auto store = FileStore::Open(dir);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Set("a/b", Bytes("slash")).ok());
  ASSERT_TRUE((*store)->Set("a%2Fb", Bytes("percent")).ok());
  EXPECT_EQ(*(*store)->Get("a/b", absl::Seconds(1)), Bytes("slash"));
  EXPECT_EQ(*(*store)->Get("a%2Fb", absl::Seconds(1)), Bytes("percent"));
  std::filesystem::remove_all(dir);
}

TEST(FileStoreTest, UnusableDirectoryIsAClearError) {
  const auto store = FileStore::Open("/proc/self/cannot-create-here");
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("/proc/self/cannot-create-here"));
}

}  // namespace
}  // namespace cosched::collectives
