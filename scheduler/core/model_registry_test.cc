// ModelRegistry: versions learnt from reports, promotion by policy and by hand, rollback,
// and the versions a node may answer with.
#include "scheduler/core/model_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched::scheduler {
namespace {

using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixSeconds(1000);

ServedVersion Version(int64_t step, double accuracy = -1) {
  return ServedVersion{"mlp", step, accuracy, kNow, "j-1"};
}

TEST(ModelRegistryTest, NewestPolicyServesTheNewestAndAcceptsFresherWithinTheBound) {
  ModelRegistry registry;
  EXPECT_EQ(registry.Acceptable("mlp").status().code(), absl::StatusCode::kNotFound);
  registry.Declare("mlp", "j-1", PromotionPolicy::kNewest, 100);
  EXPECT_EQ(registry.Acceptable("mlp").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(registry.Observe(Version(50), kNow));
  EXPECT_FALSE(registry.Observe(Version(50), kNow));  // known already
  EXPECT_TRUE(registry.Observe(Version(150), kNow));
  EXPECT_TRUE(registry.Observe(Version(100), kNow));  // late report of an older one
  EXPECT_EQ(registry.Find("mlp")->serving, 150);
  const absl::StatusOr<VersionRange> range = registry.Acceptable("mlp");
  ASSERT_TRUE(range.ok()) << range.status();
  EXPECT_FALSE(range->Contains(49));
  EXPECT_TRUE(range->Contains(50));
  EXPECT_TRUE(range->Contains(10000));  // a member ahead of its last report is fresher
  // Reports of models nobody declared are ignored.
  EXPECT_FALSE(registry.Observe(ServedVersion{"other", 1, -1, kNow, "j-2"}, kNow));
  EXPECT_EQ(registry.Find("other"), nullptr);
}

TEST(ModelRegistryTest, BetterAccuracyPromotesOnlyAnEvaluatedVersionThatBeatsTheServingOne) {
  ModelRegistry registry;
  registry.Declare("mlp", "j-1", PromotionPolicy::kBetterAccuracy, 0);
  registry.Observe(Version(50), kNow);  // not evaluated: nothing serves
  EXPECT_THAT(registry.Acceptable("mlp").status().message(), HasSubstr("none has been evaluated"));
  registry.Observe(Version(100, 0.80), kNow);
  EXPECT_EQ(registry.Find("mlp")->serving, 100);
  registry.Observe(Version(150, 0.78), kNow);  // worse: stays
  EXPECT_EQ(registry.Find("mlp")->serving, 100);
  // The same step reported again, now evaluated and better.
  registry.Observe(Version(200), kNow);
  registry.Observe(Version(200, 0.85), kNow);
  EXPECT_EQ(registry.Find("mlp")->serving, 200);
  EXPECT_DOUBLE_EQ(registry.Find("mlp")->versions.at(200).test_accuracy, 0.85);
  const absl::StatusOr<VersionRange> range = registry.Acceptable("mlp");
  ASSERT_TRUE(range.ok());
  EXPECT_FALSE(range->Contains(201));  // not evaluated better: fresher does not serve
  EXPECT_TRUE(range->Contains(200));
}

TEST(ModelRegistryTest, PromoteRollbackAndUnpin) {
  ModelRegistry registry;
  registry.Declare("mlp", "j-1", PromotionPolicy::kNewest, 10);
  for (int64_t step : {100, 200, 300}) registry.Observe(Version(step), kNow);
  EXPECT_THAT(registry.Promote("mlp", 250, kNow).message(), HasSubstr("no version 250"));
  ASSERT_TRUE(registry.Promote("mlp", 100, kNow).ok());
  const ServedModel& model = *registry.Find("mlp");
  EXPECT_TRUE(model.pinned);
  registry.Observe(Version(400), kNow);
  EXPECT_EQ(model.serving, 100);  // pinned
  EXPECT_EQ(registry.Acceptable("mlp")->max, 100);
  // Undoing the promotion: the policy picks again, as before it (the newest is 400 now).
  ASSERT_TRUE(registry.Rollback("mlp", kNow).ok());
  EXPECT_EQ(model.serving, 400);
  EXPECT_FALSE(model.pinned);
  // Undoing the policy's pick: the version that served before 300 (the pick then), pinned.
  ASSERT_TRUE(registry.Rollback("mlp", kNow).ok());
  EXPECT_EQ(model.serving, 200);
  EXPECT_TRUE(model.pinned);
  ASSERT_TRUE(registry.Unpin("mlp", kNow).ok());
  EXPECT_EQ(model.serving, 400);
  EXPECT_FALSE(model.pinned);
  ModelRegistry empty;
  empty.Declare("mlp", "j-1", PromotionPolicy::kNewest, 10);
  EXPECT_EQ(empty.Rollback("mlp", kNow).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(empty.Promote("nope", 1, kNow).code(), absl::StatusCode::kNotFound);
}

TEST(ModelRegistryTest, OldVersionsAreForgottenButNeverTheServingOne) {
  ModelRegistry registry;
  registry.Declare("mlp", "j-1", PromotionPolicy::kNewest, 10);
  registry.Observe(Version(1), kNow);
  ASSERT_TRUE(registry.Promote("mlp", 1, kNow).ok());
  for (int64_t step = 2; step < 100; ++step) registry.Observe(Version(step), kNow);
  const ServedModel& model = *registry.Find("mlp");
  EXPECT_EQ(model.versions.size(), ModelRegistry::kKeptVersions);
  EXPECT_TRUE(model.versions.contains(1));
  EXPECT_TRUE(model.versions.contains(99));
  EXPECT_FALSE(registry.Observe(Version(2), kNow));  // a node still holding a forgotten one
  EXPECT_FALSE(model.versions.contains(2));
  EXPECT_EQ(ParsePromotionPolicy("best").status().code(), absl::StatusCode::kInvalidArgument);
}

ModelVersionRecord FromCheckpoint(int64_t version, double accuracy = -1) {
  return ModelVersionRecord{version, "", kNow, accuracy, "/ckpt/ckpt-000000000001.bin"};
}

TEST(ModelRegistryTest, APublishedCheckpointIsAVersionLikeAJobsAndNeverTakesAKnownName) {
  ModelRegistry registry;
  EXPECT_EQ(registry.Publish("mlp", FromCheckpoint(5), kNow).code(), absl::StatusCode::kNotFound);
  registry.Declare("mlp", "j-1", PromotionPolicy::kNewest, 10);
  registry.Observe(Version(100), kNow);
  // Older than the serving one: kept, not served (the policy serves the newest).
  ASSERT_TRUE(registry.Publish("mlp", FromCheckpoint(5), kNow).ok());
  EXPECT_EQ(registry.Find("mlp")->serving, 100);
  EXPECT_EQ(registry.Find("mlp")->versions.at(5).checkpoint, "/ckpt/ckpt-000000000001.bin");
  // Newer: the policy serves it.
  ASSERT_TRUE(registry.Publish("mlp", FromCheckpoint(1000), kNow).ok());
  EXPECT_EQ(registry.Find("mlp")->serving, 1000);
  // A version the model has, from the job or a checkpoint, is not overwritten.
  const absl::Status taken = registry.Publish("mlp", FromCheckpoint(100), kNow);
  EXPECT_EQ(taken.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(taken.message(), HasSubstr("already has version 100 (from job j-1)"));
  EXPECT_THAT(registry.Publish("mlp", FromCheckpoint(5), kNow).message(),
              HasSubstr("(from checkpoint /ckpt/ckpt-000000000001.bin)"));
  // better_accuracy: only an evaluated checkpoint that beats the serving version serves.
  registry.Declare("acc", "j-2", PromotionPolicy::kBetterAccuracy, 0);
  registry.Observe(ServedVersion{"acc", 10, 0.8, kNow, "j-2"}, kNow);
  ASSERT_TRUE(registry.Publish("acc", FromCheckpoint(20), kNow).ok());
  EXPECT_EQ(registry.Find("acc")->serving, 10);
  ASSERT_TRUE(registry.Publish("acc", FromCheckpoint(5, 0.9), kNow).ok());
  EXPECT_EQ(registry.Find("acc")->serving, 5);
}

TEST(ModelRegistryTest, ACheckpointsVersionAndWeightsOutliveTheJobsNewerOnes) {
  ModelRegistry registry;
  registry.Declare("mlp", "j-1", PromotionPolicy::kNewest, 10);
  ASSERT_TRUE(registry.Publish("mlp", FromCheckpoint(1), kNow).ok());
  registry.KeepWeights("mlp", 1, std::make_shared<const std::string>("checkpoint"));
  for (int64_t step = 2; step < 100; ++step) {
    registry.Observe(Version(step), kNow);
    registry.KeepWeights("mlp", step, std::make_shared<const std::string>("job"));
  }
  const ServedModel& model = *registry.Find("mlp");
  EXPECT_EQ(model.versions.size(), ModelRegistry::kKeptVersions);
  EXPECT_TRUE(model.versions.contains(1));   // the checkpoint's: the job's went first
  EXPECT_FALSE(model.versions.contains(2));  // the job's oldest
  // The checkpoint's weights, the serving version's, and the newest kKeptWeights of the rest.
  EXPECT_EQ(*model.weights.at(1), "checkpoint");
  EXPECT_EQ(model.serving, 99);
  EXPECT_TRUE(model.weights.contains(99));
  EXPECT_TRUE(model.weights.contains(95));
  EXPECT_FALSE(model.weights.contains(94));
  EXPECT_EQ(model.weights.size(), ModelRegistry::kKeptWeights + 2);
  // Once only checkpoints' versions are left to drop, the oldest of them goes, weights too.
  ModelRegistry only_checkpoints;
  only_checkpoints.Declare("mlp", "", PromotionPolicy::kNewest, 0);
  for (int64_t version = 1; version <= static_cast<int64_t>(ModelRegistry::kKeptVersions) + 1;
       ++version) {
    ASSERT_TRUE(only_checkpoints.Publish("mlp", FromCheckpoint(version), kNow).ok());
    only_checkpoints.KeepWeights("mlp", version, std::make_shared<const std::string>("w"));
  }
  const ServedModel& trimmed = *only_checkpoints.Find("mlp");
  EXPECT_EQ(trimmed.versions.size(), ModelRegistry::kKeptVersions);
  EXPECT_FALSE(trimmed.versions.contains(1));
  EXPECT_FALSE(trimmed.weights.contains(1));
  EXPECT_EQ(trimmed.weights.size(), ModelRegistry::kKeptVersions);
}

}  // namespace
}  // namespace cosched::scheduler
