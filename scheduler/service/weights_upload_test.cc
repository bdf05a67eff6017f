// The scheduler checks weights before it keeps them, a node's or a published checkpoint's: the
// version named, as many parameter bytes as the layer sizes call for, and, for a model a job
// trains, the job's hidden layers.
#include "scheduler/service/weights_upload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace cosched::scheduler {
namespace {

using ::testing::HasSubstr;

cosched::v1::WeightsUpload Upload() {
  cosched::v1::WeightsUpload upload;
  upload.set_model("mlp");
  upload.set_version(40);
  cosched::v1::ModelWeights& weights = *upload.mutable_weights();
  weights.set_model("mlp");
  weights.set_version(40);
  for (int size : {4, 3, 2}) weights.add_layer_sizes(size);  // 23 parameters
  weights.set_parameters(std::string(23 * 4, '\0'));
  return upload;
}

TEST(WeightsUploadTest, WeightsThatMatchTheirLayersAreKeptSerialized) {
  const auto kept = CheckWeightsUpload(Upload());
  ASSERT_TRUE(kept.ok()) << kept.status();
  cosched::v1::ModelWeights parsed;
  ASSERT_TRUE(parsed.ParseFromString(**kept));
  EXPECT_EQ(parsed.version(), 40);
  EXPECT_EQ(parsed.parameters().size(), 92u);
}

TEST(WeightsUploadTest, AnythingElseIsRefusedWithTheReason) {
  cosched::v1::WeightsUpload refused;
  refused.set_error("this node serves mlp version 60, not mlp version 40");
  EXPECT_EQ(CheckWeightsUpload(refused).status().code(), absl::StatusCode::kFailedPrecondition);
  cosched::v1::WeightsUpload other = Upload();
  other.mutable_weights()->set_version(41);
  EXPECT_THAT(CheckWeightsUpload(other).status().message(),
              HasSubstr("weights of mlp version 41 sent as mlp version 40"));
  cosched::v1::WeightsUpload truncated = Upload();
  truncated.mutable_weights()->mutable_parameters()->resize(91);
  EXPECT_THAT(CheckWeightsUpload(truncated).status().message(),
              HasSubstr("weights hold 91 bytes; layer sizes call for 23 parameters"));
  cosched::v1::WeightsUpload shapeless = Upload();
  shapeless.mutable_weights()->clear_layer_sizes();
  EXPECT_EQ(CheckWeightsUpload(shapeless).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(CheckModelWeightsTest, NamesWhatIsWrong) {
  cosched::v1::ModelWeights unnamed = Upload().weights();
  unnamed.clear_model();
  EXPECT_THAT(CheckModelWeights(unnamed).status().message(), HasSubstr("name no model"));
  cosched::v1::ModelWeights negative = Upload().weights();
  negative.set_version(-1);
  EXPECT_THAT(CheckModelWeights(negative).status().message(), HasSubstr("negative version -1"));
  for (double accuracy : {84.0, std::nan("")}) {
    cosched::v1::ModelWeights percent = Upload().weights();
    percent.set_test_accuracy(accuracy);
    EXPECT_EQ(CheckModelWeights(percent).status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(CheckModelWeights(percent).status().message(), HasSubstr("not a fraction"));
  }
  cosched::v1::ModelWeights unevaluated = Upload().weights();
  unevaluated.set_test_accuracy(-1);
  EXPECT_TRUE(CheckModelWeights(unevaluated).ok());
}

TEST(CheckPublishedLayersTest, APublishedVersionHasTheHiddenLayersOfTheJobThatTrainsTheModel) {
  const cosched::v1::ModelWeights weights = Upload().weights();  // 4-3-2: hidden [3]
  EXPECT_TRUE(CheckPublishedLayers(weights, "job-1", "job:\n  model: {hidden_sizes: [3]}\n").ok());
  const absl::Status other =
      CheckPublishedLayers(weights, "job-1", "job:\n  model: {hidden_sizes: [256, 128]}\n");
  EXPECT_EQ(other.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other.message(),
              HasSubstr("hidden layers are [3]; job job-1, which trains model 'mlp', has "
                        "[256, 128]"));
}

}  // namespace
}  // namespace cosched::scheduler
