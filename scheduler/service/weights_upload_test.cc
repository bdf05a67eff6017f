// The scheduler checks a node's weights before it keeps them: the version named, and as many
// parameter bytes as the layer sizes call for.
#include "scheduler/service/weights_upload.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace cosched::scheduler
