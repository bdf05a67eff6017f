// File: collectives/solo_group_test.cc
#include "collectives/solo_group.h"

#include <gtest/gtest.h>

#include <vector>

namespace cosched::collectives {
namespace {

GroupOptions SoloOptions() {
  GroupOptions options;
  options.job_id = "edge-job";
  options.world_size = 1;
  options.rank = 0;
  return options;
}

TEST(SoloGroupTest, EveryOperationOfOneRankLeavesTheDataAsItIs) {
  absl::StatusOr<std::unique_ptr<CollectiveGroup>> group = SoloGroup::Create(SoloOptions());
  ASSERT_TRUE(group.ok()) << group.status();
  std::vector<float> data = {1.5f, -2.0f, 3.0f};
  ASSERT_TRUE((*group)->Allreduce(absl::MakeSpan(data)).ok());
  EXPECT_EQ(data, (std::vector<float>{1.5f, -2.0f, 3.0f}));
  ASSERT_TRUE((*group)->Broadcast(absl::MakeSpan(data), 0).ok());
  std::vector<float> gathered(3);
  ASSERT_TRUE((*group)->Allgather(data, absl::MakeSpan(gathered)).ok());
  EXPECT_EQ(gathered, data);
  EXPECT_TRUE((*group)->Barrier().ok());
  EXPECT_EQ((*group)->StagingBuffer(7).size(), 7u);
}

TEST(SoloGroupTest, AnAbortFailsLaterOperationsWithTheReason) {
  absl::StatusOr<std::unique_ptr<CollectiveGroup>> group = SoloGroup::Create(SoloOptions());
  ASSERT_TRUE(group.ok()) << group.status();
  (*group)->Abort("the vehicle left");
  std::vector<float> data = {1.0f};
  const absl::Status status = (*group)->Allreduce(absl::MakeSpan(data));
  EXPECT_TRUE(absl::IsAborted(status)) << status;
  EXPECT_NE(status.message().find("the vehicle left"), absl::string_view::npos) << status;
}

TEST(SoloGroupTest, RefusesMoreThanOneRank) {
  GroupOptions options = SoloOptions();
  options.world_size = 2;
  EXPECT_TRUE(absl::IsInvalidArgument(SoloGroup::Create(options).status()));
}

}  // namespace
}  // namespace cosched::collectives
