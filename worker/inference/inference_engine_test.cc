// InferenceEngine and the versions it serves: nothing before the first version, a request for
// another model or for versions outside the engine's refused with the reason, answers that
// say which version gave them, and a newer version taking over.
#include "worker/inference/inference_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace cosched::worker {
namespace {

using ::testing::HasSubstr;

class InferenceEngineTest : public ::testing::Test {
 protected:
  InferenceEngineTest() : model_(*Mlp::Create({4, 3})), engine_(&model_, &token_, {}, nullptr) {}

  // Weights that predict class `best` for every input.
  std::vector<float> WeightsFavouring(int best) const {
    std::vector<float> params(model_.num_parameters(), 0.0f);
    params[model_.bias_offset(0) + best] = 5.0f;
    return params;
  }
  ModelVersion Version(int64_t step, double accuracy = -1) const {
    return ModelVersion{"mlp", step, accuracy, absl::Now()};
  }
  absl::StatusOr<InferenceResult> Infer(const VersionWanted& wanted = VersionWanted()) {
    return engine_.Infer(std::vector<float>(4, 0.5f), absl::Now() + absl::Seconds(5), wanted);
  }

  Mlp model_;
  ComputeToken token_;
  InferenceEngine engine_;
};

TEST_F(InferenceEngineTest, NothingIsServedBeforeTheFirstVersion) {
  EXPECT_FALSE(engine_.version().has_value());
  const absl::StatusOr<InferenceResult> result = Infer();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(result.status().message(), HasSubstr("no model version yet"));
}

TEST_F(InferenceEngineTest, AnswersSayWhichVersionGaveThemAndANewerOneTakesOver) {
  engine_.PublishVersion(Version(50, 0.81), WeightsFavouring(1));
  ASSERT_TRUE(engine_.version().has_value());
  EXPECT_EQ(engine_.version()->step, 50);
  absl::StatusOr<InferenceResult> result = Infer(VersionWanted("mlp"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->classes, std::vector<uint32_t>{1});
  EXPECT_EQ(result->version.model, "mlp");
  EXPECT_EQ(result->version.step, 50);
  EXPECT_DOUBLE_EQ(result->version.test_accuracy, 0.81);
  engine_.PublishVersion(Version(100), WeightsFavouring(2));
  result = Infer();  // no model named: whatever it serves
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->classes, std::vector<uint32_t>{2});
  EXPECT_EQ(result->version.step, 100);
  // Its parameters go out only as the version it serves now.
  const auto served = engine_.Parameters("mlp", 100);
  ASSERT_TRUE(served.ok()) << served.status();
  EXPECT_EQ(served->version.step, 100);
  EXPECT_EQ(served->params, WeightsFavouring(2));
  EXPECT_THAT(engine_.Parameters("mlp", 50).status().message(),
              HasSubstr("serves mlp version 100, not mlp version 50"));
}

TEST_F(InferenceEngineTest, AnotherModelOrAVersionOutsideTheWantedOnesIsRefused) {
  engine_.PublishVersion(Version(100), WeightsFavouring(0));
  absl::StatusOr<InferenceResult> other = Infer(VersionWanted("resnet"));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.status().message(), HasSubstr("serves model 'mlp', not 'resnet'"));
  absl::StatusOr<InferenceResult> stale = Infer(VersionWanted("mlp", 150));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(stale.status().message(), HasSubstr("version 100"));
  EXPECT_THAT(stale.status().message(), HasSubstr("150 to"));
  EXPECT_EQ(Infer(VersionWanted("mlp", 0, 99)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Infer(VersionWanted("mlp", 60, 100)).ok());
}

}  // namespace
}  // namespace cosched::worker
