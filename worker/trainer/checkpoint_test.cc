#include "worker/trainer/checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace cosched::worker {
namespace {

using ::testing::HasSubstr;

TrainingState SampleState(int64_t step) {
  TrainingState state;
  state.fingerprint = "mlp:4-3-2/adam";
  state.step = step;
  state.epoch = 2;
  state.parameters = {0.5f, -1.25f, 3.0f, static_cast<float>(step)};
  state.optimizer_state = {0.1f, 0.2f};
  state.optimizer_steps = step;
  state.lease_table = std::string("lease\0bytes", 11);
  state.rng = "12345 678";
  return state;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/checkpoint_test_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CheckpointTest, RoundTripsEveryField) {
  auto path = WriteCheckpoint(dir_, SampleState(7));
  ASSERT_TRUE(path.ok()) << path.status();
  auto read = ReadCheckpoint(*path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, SampleState(7));
}

TEST_F(CheckpointTest, LatestWinsAndOldOnesArePruned) {
  for (int64_t step : {10, 20, 30, 40})
    ASSERT_TRUE(WriteCheckpoint(dir_, SampleState(step), 2).ok());
  auto latest = LoadLatestCheckpoint(dir_);
  ASSERT_TRUE(latest.ok());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->step, 40);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 2);
}

TEST_F(CheckpointTest, CorruptNewestFallsBackToTheOneBefore) {
  ASSERT_TRUE(WriteCheckpoint(dir_, SampleState(1)).ok());
  auto newest = WriteCheckpoint(dir_, SampleState(2));
  ASSERT_TRUE(newest.ok());
  {
    std::fstream f(*newest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);
    f.put('\x7f');
  }
  EXPECT_THAT(ReadCheckpoint(*newest).status().message(), HasSubstr("checksum mismatch"));
  auto latest = LoadLatestCheckpoint(dir_);
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ((*latest)->step, 1);
}

TEST_F(CheckpointTest, EmptyDirectoryHasNoCheckpoint) {
  auto latest = LoadLatestCheckpoint(dir_);
  ASSERT_TRUE(latest.ok());
  EXPECT_FALSE(latest->has_value());
}

TEST(TrainingStateTest, RejectsDamagedEncodings) {
  const std::string good = EncodeTrainingState(SampleState(3));
  EXPECT_THAT(DecodeTrainingState("garbage", "x").status().message(), HasSubstr("bad magic"));
  for (size_t cut : {size_t{9}, good.size() / 2, good.size() - 1}) {
    const auto truncated = DecodeTrainingState(good.substr(0, cut), "cut");
    EXPECT_FALSE(truncated.ok()) << cut;
  }
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x10;
  EXPECT_EQ(DecodeTrainingState(flipped, "flip").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(DecodeTrainingState(good, "good").ok());
}

}  // namespace
}  // namespace cosched::worker
