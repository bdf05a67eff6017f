#include "worker/job_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched::worker {
namespace {

using ::testing::HasSubstr;

std::string Config(const std::string& name) {
  return std::string(COSCHED_SOURCE_DIR) + "/configs/jobs/" + name;
}

TEST(JobConfigTest, DefaultJobLoads) {
  auto job = LoadJobConfig(Config("fashion-mlp.yaml"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->name, "fashion-mlp");
  EXPECT_EQ(job->model.LayerSizes(784, 10), (std::vector<int>{784, 256, 128, 10}));
  EXPECT_EQ(job->optimizer.kind, OptimizerConfig::Kind::kAdam);
  EXPECT_GT(job->epochs, 0);
  EXPECT_EQ(job->inference.default_deadline, absl::Milliseconds(20));
}

TEST(JobConfigTest, TestJobLoads) {
  auto job = LoadJobConfig(Config("test-short.yaml"));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_GT(job->steps, 0);
}

absl::Status Parse(const std::string& yaml) {
  auto root = ConfigNode::LoadString(yaml, "job.yaml");
  if (!root.ok()) return root.status();
  return ParseJobConfig(*root).status();
}

TEST(JobConfigTest, BadSectionsAreErrorsNotCrashes) {
  EXPECT_THAT(Parse("job:\n  name: x\n  model: 5\n").message(),
              HasSubstr("job.yaml:3: field 'job.model': expected a mapping"));
  EXPECT_THAT(Parse("job:\n  optimizer: [1]\n").message(), HasSubstr("field 'job.optimizer'"));
  EXPECT_THAT(Parse("job:\n  collectives: [1]\n").message(), HasSubstr("field 'job.collectives'"));
}

TEST(JobConfigTest, BadValuesNameTheField) {
  EXPECT_THAT(Parse("job:\n  training:\n    global_batch: -5\n").message(),
              HasSubstr("job.yaml:3: field 'job.training.global_batch': -5 is out of range"));
  EXPECT_THAT(Parse("job:\n  workers: {min: 4, max: 2}\n").message(),
              HasSubstr("field 'job.workers.max': must be at least workers.min"));
  EXPECT_THAT(Parse("job:\n  name: a/b\n").message(), HasSubstr("field 'job.name'"));
  EXPECT_THAT(Parse("job:\n  training: {epochs: 0}\n").message(),
              HasSubstr("give epochs or steps"));
  EXPECT_THAT(Parse("job:\n  checkpoint: {interval_steps: 10}\n").message(),
              HasSubstr("field 'job.checkpoint.dir'"));
  EXPECT_THAT(Parse("jobb: {}\n").message(), HasSubstr("field 'jobb': unknown field"));
}

}  // namespace
}  // namespace cosched::worker
