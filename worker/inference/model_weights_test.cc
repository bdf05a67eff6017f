// Model weights over the session: a version encodes and decodes to the same model and bits,
// and weights that no MLP has (or that are not numbers) are refused with the reason.
#include "worker/inference/model_weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace cosched::worker {
namespace {

using ::testing::HasSubstr;

cosched::v1::ModelWeights Encoded(std::vector<float>* params_out = nullptr) {
  const Mlp model = *Mlp::Create({4, 3, 2});
  std::vector<float> params(model.num_parameters());
  model.InitParameters(absl::MakeSpan(params), 7);
  if (params_out != nullptr) *params_out = params;
  const ModelVersion version{"mlp", 350, 0.84, absl::FromUnixSeconds(1700000000)};
  return EncodeWeights(version, model, params, "j-3");
}

TEST(ModelWeightsTest, AVersionDecodesToTheSameModelAndBits) {
  std::vector<float> params;
  const absl::StatusOr<LoadedWeights> loaded = DecodeWeights(Encoded(&params));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->version.model, "mlp");
  EXPECT_EQ(loaded->version.step, 350);
  EXPECT_DOUBLE_EQ(loaded->version.test_accuracy, 0.84);
  EXPECT_EQ(loaded->version.published, absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(loaded->job, "j-3");
  EXPECT_EQ(loaded->model.layer_sizes(), (std::vector<int>{4, 3, 2}));
  EXPECT_EQ(loaded->params, params);
}

TEST(ModelWeightsTest, WeightsNoModelHasAreRefusedWithTheReason) {
  auto refused = [](const cosched::v1::ModelWeights& weights) {
    const absl::Status status = DecodeWeights(weights).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    return std::string(status.message());
  };
  cosched::v1::ModelWeights unnamed = Encoded();
  unnamed.clear_model();
  EXPECT_THAT(refused(unnamed), HasSubstr("no model name"));
  cosched::v1::ModelWeights negative = Encoded();
  negative.set_version(-1);
  EXPECT_THAT(refused(negative), HasSubstr("negative version"));
  cosched::v1::ModelWeights one_layer = Encoded();
  one_layer.clear_layer_sizes();
  one_layer.add_layer_sizes(4);
  EXPECT_THAT(refused(one_layer), HasSubstr("at least 2 layer sizes"));
  cosched::v1::ModelWeights short_bytes = Encoded();
  short_bytes.mutable_parameters()->resize(short_bytes.parameters().size() - 4);
  EXPECT_THAT(refused(short_bytes), HasSubstr("the layer sizes call for 23 parameters"));
  cosched::v1::ModelWeights not_a_number = Encoded();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  not_a_number.mutable_parameters()->replace(8, sizeof(float), reinterpret_cast<const char*>(&nan),
                                             sizeof(float));
  EXPECT_THAT(refused(not_a_number), HasSubstr("parameter 2 is not finite"));
}

}  // namespace
}  // namespace cosched::worker
