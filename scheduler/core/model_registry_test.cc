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

}  // namespace
}  // namespace cosched::scheduler
