// Trainer with ranks as threads over an InMemoryStore, on the real Fashion-MNIST data.
#include "worker/trainer/trainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <thread>

#include "collectives/gloo_group.h"
#include "collectives/memory_store.h"
#include "worker/trainer/checkpoint.h"

namespace cosched::worker {
namespace {

const FashionMnist& Data() {
  static const FashionMnist* data = [] {
    auto loaded = LoadFashionMnist();
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status();
      return new FashionMnist();
    }
    return new FashionMnist(*std::move(loaded));
  }();
  return *data;
}

JobConfig SmallJob(int64_t steps) {
  JobConfig job;
  job.name = "trainer-test";
  job.seed = 7;
  job.global_batch = 64;
  job.micro_batch = 16;
  job.steps = steps;
  job.epochs = 0;
  job.log_every_steps = 1000000;
  job.min_workers = 1;
  job.max_workers = 8;
  job.collectives.timeout = absl::Seconds(30);
  return job;
}

struct RankOutcome {
  absl::StatusOr<TrainingResult> result = absl::UnknownError("not run");
};

// Runs `world` ranks of `job` as threads; `tokens[r]` is rank r's compute token. The last
// rank reports progress to `on_last_rank_progress`, if given. `host_ids[r]`, when given, is
// rank r's host id (ranks with different ids act as on separate hosts: no shared memory), and
// `checkpoint_dirs[r]`, when given, rank r's own checkpoint directory (each node its disk).
std::vector<RankOutcome> RunRanks(
    const JobConfig& job, int world, std::vector<ComputeToken>& tokens,
    std::function<void(const TrainingProgress&)> on_last_rank_progress = nullptr,
    const std::vector<std::string>& host_ids = {},
    const std::vector<std::string>& checkpoint_dirs = {}) {
  collectives::InMemoryStore store;
  NoRecovery no_recovery;
  std::vector<RankOutcome> outcomes(world);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      TrainerOptions options;
      options.job = job;
      options.data = &Data();
      options.initial.rank = rank;
      options.initial.world_size = world;
      options.membership = &no_recovery;
      options.token = &tokens[rank];
      if (rank < static_cast<int>(host_ids.size())) options.host_id = host_ids[rank];
      if (rank < static_cast<int>(checkpoint_dirs.size())) {
        options.job.checkpoint_dir = checkpoint_dirs[rank];
      }
      if (rank == world - 1) options.on_progress = on_last_rank_progress;
      options.create_group = [&store](const collectives::GroupOptions& o) {
        collectives::GroupOptions with_store = o;
        with_store.store = &store;
        return collectives::CreateGroup(with_store);
      };
      auto trainer = Trainer::Create(options);
      if (!trainer.ok()) {
        outcomes[rank].result = trainer.status();
        return;
      }
      outcomes[rank].result = (*trainer)->Run();
    });
  }
  for (auto& t : threads) t.join();
  return outcomes;
}

TEST(TrainerTest, TwoRanksKeepIdenticalParametersAndLearn) {
  std::vector<ComputeToken> tokens(2);
  const auto outcomes = RunRanks(SmallJob(300), 2, tokens);
  ASSERT_TRUE(outcomes[0].result.ok()) << outcomes[0].result.status();
  ASSERT_TRUE(outcomes[1].result.ok()) << outcomes[1].result.status();
  EXPECT_EQ(outcomes[0].result->parameter_checksum, outcomes[1].result->parameter_checksum);
  EXPECT_EQ(outcomes[0].result->steps, 300);
  // 10 classes: chance is 0.1; 300 steps of 64 samples get far above it.
  EXPECT_GT(outcomes[0].result->test_accuracy, 0.7);
  EXPECT_EQ(outcomes[0].result->test_accuracy, outcomes[1].result->test_accuracy);
}

// The job spec names allreduce algorithms as text; the trainer turns them into the group's
// selector and refuses a name collectives does not know before any group forms.
TEST(TrainerTest, JobsAllreduceSettingsReachTheGroupOrAreRefusedUpFront) {
  std::vector<ComputeToken> tokens(2);
  JobConfig job = SmallJob(5);
  job.collectives.allreduce.rules = {{0, "ring"}, {1 << 20, "allreduce-ring"}};
  const auto outcomes = RunRanks(job, 2, tokens);
  ASSERT_TRUE(outcomes[0].result.ok()) << outcomes[0].result.status();
  EXPECT_EQ(outcomes[0].result->parameter_checksum, outcomes[1].result->parameter_checksum);

  job.collectives.allreduce.rules = {{0, "fastest"}};
  const auto refused = RunRanks(job, 1, tokens);
  EXPECT_EQ(refused[0].result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused[0].result.status().message(),
              ::testing::HasSubstr("unknown allreduce algorithm 'fastest'"));
}

// Both ways a peer takes over a preempted rank's samples: work stealing (the default) and,
// in a deterministic job, help that the preempted rank asks for.
class PreemptedRankTest : public ::testing::TestWithParam<bool> {};

TEST_P(PreemptedRankTest, NeverHoldsItsPeerBack) {
  std::vector<ComputeToken> tokens(2);
  // Inference holds rank 0's compute through all 40 training steps and is released only
  // when rank 1 reports its 40th step. If rank 1 had to wait for rank 0 to compute, it could
  // never get there; instead rank 0 joins every step with zero samples. (The final
  // evaluation then waits for the compute, as evaluation does.)
  JobConfig job = SmallJob(40);
  job.log_every_steps = 40;
  job.deterministic = GetParam();
  tokens[0].BeginInference();
  const auto outcomes = RunRanks(job, 2, tokens, [&](const TrainingProgress& progress) {
    if (progress.kind == TrainingProgress::Kind::kStep && progress.step == 40) {
      tokens[0].EndInference();
    }
  });
  ASSERT_TRUE(outcomes[0].result.ok()) << outcomes[0].result.status();
  ASSERT_TRUE(outcomes[1].result.ok()) << outcomes[1].result.status();
  EXPECT_EQ(outcomes[0].result->preempted_steps, 40);
  EXPECT_EQ(outcomes[1].result->preempted_steps, 0);
  EXPECT_EQ(outcomes[0].result->parameter_checksum, outcomes[1].result->parameter_checksum);
  // Work conserving: rank 0 asks for help when it yields at the start of each step, and rank
  // 1, done with its own 32 samples, trains rank 0's 32 too instead of waiting. (Only if
  // rank 1 finished its plan before rank 0 even reached its first yield point would a step
  // train 32; under any scheduling that cannot happen in most of 40 steps.)
  EXPECT_GT(outcomes[1].result->samples, 40 * 32 + 20 * 32);
  EXPECT_EQ(outcomes[0].result->samples, outcomes[1].result->samples);
}

INSTANTIATE_TEST_SUITE_P(StealingOrHelp, PreemptedRankTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "Deterministic" : "WorkStealing";
                         });

TEST(TrainerTest, WithoutInferenceEveryRankTrainsExactlyItsOwnPlan) {
  // A deterministic job where nobody yields: nobody helps, so two runs give the same
  // parameters bit for bit (helping would change the order gradients are summed in).
  JobConfig job = SmallJob(30);
  job.deterministic = true;
  std::vector<ComputeToken> first_tokens(2), second_tokens(2);
  const auto first = RunRanks(job, 2, first_tokens);
  const auto second = RunRanks(job, 2, second_tokens);
  ASSERT_TRUE(first[0].result.ok()) << first[0].result.status();
  ASSERT_TRUE(second[0].result.ok()) << second[0].result.status();
  EXPECT_EQ(first[0].result->parameter_checksum, second[0].result->parameter_checksum);
  EXPECT_EQ(first[0].result->samples, 30 * 64);
}

TEST(TrainerTest, RanksOnSeparateHostsTrainEachItsOwnPlan) {
  // Ranks on two hosts share no memory, so no plan counters: a rank that finished its plan
  // must not take a peer's (it would compute the peer's samples a second time, and the step
  // would report more samples of that plan than it holds). Work stealing is the default.
  JobConfig job = SmallJob(30);
  ASSERT_FALSE(job.deterministic);
  std::vector<ComputeToken> tokens(3);
  const auto outcomes = RunRanks(job, 3, tokens, nullptr, {"host-a", "host-b", "host-b"});
  for (int rank = 0; rank < 3; ++rank) {
    ASSERT_TRUE(outcomes[rank].result.ok()) << rank << ": " << outcomes[rank].result.status();
    EXPECT_EQ(outcomes[rank].result->samples, 30 * 64) << rank;  // every sample exactly once
    EXPECT_EQ(outcomes[rank].result->parameter_checksum, outcomes[0].result->parameter_checksum);
  }
}

TEST(TrainerTest, ResumingFromACheckpointContinuesTheSameRun) {
  const std::string dir = ::testing::TempDir() + "/trainer_resume_test";
  std::filesystem::remove_all(dir);
  std::vector<ComputeToken> tokens(1);
  const auto straight = RunRanks(SmallJob(60), 1, tokens);
  ASSERT_TRUE(straight[0].result.ok()) << straight[0].result.status();

  JobConfig first_half = SmallJob(30);
  first_half.checkpoint_dir = dir;
  ASSERT_TRUE(RunRanks(first_half, 1, tokens)[0].result.ok());
  auto saved = LoadLatestCheckpoint(dir);
  ASSERT_TRUE(saved.ok() && saved->has_value());
  EXPECT_EQ((*saved)->step, 30);

  JobConfig second_half = SmallJob(60);
  second_half.checkpoint_dir = dir;
  const auto resumed = RunRanks(second_half, 1, tokens);
  ASSERT_TRUE(resumed[0].result.ok()) << resumed[0].result.status();
  EXPECT_EQ(resumed[0].result->steps, 60);
  EXPECT_EQ(resumed[0].result->parameter_checksum, straight[0].result->parameter_checksum);
  std::filesystem::remove_all(dir);
}

// Rank 0 starts fresh while rank 1 holds a checkpoint at step 30: the group goes on from the
// newest state, whoever holds it (before, rank 0's fresh state replaced the trained one).
TEST(TrainerTest, AGroupStartsFromTheNewestStateAmongItsMembers) {
  const std::string fresh_dir = ::testing::TempDir() + "/trainer_newest_fresh";
  const std::string trained_dir = ::testing::TempDir() + "/trainer_newest_trained";
  std::filesystem::remove_all(fresh_dir);
  std::filesystem::remove_all(trained_dir);
  std::vector<ComputeToken> tokens(2);
  JobConfig first = SmallJob(30);
  first.checkpoint_dir = trained_dir;
  ASSERT_TRUE(RunRanks(first, 1, tokens)[0].result.ok());

  JobConfig job = SmallJob(50);
  const auto outcomes = RunRanks(job, 2, tokens, nullptr, {}, {fresh_dir, trained_dir});
  for (int rank = 0; rank < 2; ++rank) {
    ASSERT_TRUE(outcomes[rank].result.ok()) << outcomes[rank].result.status();
    EXPECT_EQ(outcomes[rank].result->steps, 50);
    // Only the last 20 steps of 64 samples were trained in this run.
    EXPECT_EQ(outcomes[rank].result->samples, 20 * 64) << "rank " << rank;
  }
  EXPECT_EQ(outcomes[0].result->parameter_checksum, outcomes[1].result->parameter_checksum);
  std::filesystem::remove_all(fresh_dir);
  std::filesystem::remove_all(trained_dir);
}

TEST(TrainerTest, CheckpointOfAnotherModelIsRefused) {
  const std::string dir = ::testing::TempDir() + "/trainer_fingerprint_test";
  std::filesystem::remove_all(dir);
  TrainingState other;
  other.fingerprint = "mlp:784-10/sgd";
  ASSERT_TRUE(WriteCheckpoint(dir, other).ok());
  JobConfig job = SmallJob(10);
  job.checkpoint_dir = dir;
  std::vector<ComputeToken> tokens(1);
  const auto outcome = RunRanks(job, 1, tokens);
  EXPECT_EQ(outcome[0].result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(outcome[0].result.status().message(), ::testing::HasSubstr("mlp:784-10/sgd"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cosched::worker
