#include "common/job_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched {
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
  EXPECT_EQ(job->scheduling.kind, "any");
  EXPECT_EQ(job->scheduling.max_failures, 3);
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

TEST(JobConfigTest, SchedulingSectionIsCheckedFieldByField) {
  auto job = ParseJobConfigText(
      "job:\n  name: x\n  scheduling: {priority: 5, kind: vehicle, min_link_mbps: 50}\n",
      "submitted job");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->scheduling.priority, 5);
  EXPECT_EQ(job->scheduling.kind, "vehicle");
  EXPECT_DOUBLE_EQ(job->scheduling.min_link_mbps, 50);
  EXPECT_THAT(Parse("job:\n  scheduling: {kind: gpu}\n").message(),
              HasSubstr("field 'job.scheduling.kind'"));
  EXPECT_THAT(Parse("job:\n  scheduling: {min_link_mbps: -1}\n").message(),
              HasSubstr("min_link_mbps"));
  EXPECT_THAT(Parse("job:\n  scheduling: {zone: a}\n").message(), HasSubstr("unknown field"));
}

TEST(JobConfigTest, ServingSectionNamesTheModelAndItsCadence) {
  auto defaults = ParseJobConfigText("job:\n  name: digits\n", "submitted job");
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->serving.model, "digits");  // the job's name
  EXPECT_EQ(defaults->serving.publish_every_steps, 50);
  EXPECT_EQ(defaults->serving.max_staleness_steps, 100);  // twice the cadence
  EXPECT_EQ(defaults->serving.promote, "newest");
  auto job = ParseJobConfigText(
      "job:\n  serving: {model: mlp-a, publish_every_steps: 20, max_staleness_steps: 30, "
      "promote: better_accuracy}\n",
      "submitted job");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->serving.model, "mlp-a");
  EXPECT_EQ(job->serving.publish_every_steps, 20);
  EXPECT_EQ(job->serving.max_staleness_steps, 30);
  EXPECT_EQ(job->serving.promote, "better_accuracy");
  EXPECT_THAT(Parse("job:\n  serving: {model: a/b}\n").message(),
              HasSubstr("field 'job.serving.model': must be non-empty and contain no '/'"));
  EXPECT_THAT(Parse("job:\n  serving: {publish_every_steps: 0}\n").message(),
              HasSubstr("job.serving.publish_every_steps"));
  EXPECT_THAT(Parse("job:\n  serving: {promote: oldest}\n").message(),
              HasSubstr("field 'job.serving.promote'"));
}

TEST(JobConfigTest, BadSectionsAreErrorsNotCrashes) {
  EXPECT_THAT(Parse("job:\n  name: x\n  model: 5\n").message(),
              HasSubstr("job.yaml:3: field 'job.model': expected a mapping"));
  EXPECT_THAT(Parse("job:\n  optimizer: [1]\n").message(), HasSubstr("field 'job.optimizer'"));
  EXPECT_THAT(Parse("job:\n  collectives: [1]\n").message(), HasSubstr("field 'job.collectives'"));
}

TEST(JobConfigTest, CollectivesSectionIsPlainData) {
  auto job = ParseJobConfigText(
      "job:\n  collectives:\n    timeout: 5s\n    allreduce: {algorithm: allreduce-ring}\n",
      "submitted job");
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->collectives.timeout, absl::Seconds(5));
  EXPECT_EQ(job->collectives.allreduce.algorithm, "allreduce-ring");
  EXPECT_THAT(Parse("job:\n  collectives:\n    allreduce: {algorithm: warp}\n").message(),
              HasSubstr("job.yaml:3: field 'job.collectives.allreduce.algorithm': unknown "
                        "allreduce algorithm 'warp'"));
}

// A job written for the old job-wide address gets an error that says what to do instead.
TEST(JobConfigTest, ListenHostIsAClearError) {
  const absl::Status status = Parse("job:\n  collectives:\n    listen_host: 10.0.0.5\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("job.yaml:3: field 'job.collectives.listen_host'"));
  EXPECT_THAT(status.message(), HasSubstr("--advertise-address"));
  EXPECT_THAT(status.message(), HasSubstr("COSCHED_ADVERTISE_ADDRESS"));
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

// Every field has a default, but nothing at all is not a job: the error says what is missing.
TEST(JobConfigTest, AnEmptyJobIsRefusedSayingWhatIsMissing) {
  for (const char* empty : {"", "\n", "# only a comment\n", "{}\n"}) {
    const absl::Status status = Parse(empty);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << "'" << empty << "'";
    EXPECT_THAT(status.message(), HasSubstr("the job file is empty: it needs a job: section"))
        << "'" << empty << "'";
  }
  for (const char* empty_section : {"job:\n", "job: {}\n"}) {
    EXPECT_THAT(Parse(empty_section).message(),
                HasSubstr("field 'job': is empty: give at least the job's name"))
        << empty_section;
  }
  EXPECT_TRUE(Parse("job: {name: x}\n").ok());
}

}  // namespace
}  // namespace cosched
