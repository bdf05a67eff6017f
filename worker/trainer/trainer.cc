// File: worker/trainer/trainer.cc
#include "worker/trainer/trainer.h"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <numeric>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/cpu_time.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/thread_priority.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/group_failure.h"
#include "worker/trainer/step_work.h"

namespace cosched::worker {
namespace {

constexpr int kEvalChunk = 256;

// Creating a group fails for this rank's own reasons only when its options are wrong.
absl::Status FormFailure(absl::Status status) {
  if (absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status)) return status;
  return GroupFailure(std::move(status));
}

uint32_t Crc32(const std::vector<float>& values) {
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(values.data()),
                                     static_cast<uInt>(values.size() * sizeof(float))));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(TrainerOptions options) {
  if (options.data == nullptr || options.token == nullptr || options.membership == nullptr ||
      !options.create_group) {
    return absl::InvalidArgumentError(
        "Trainer needs data, a compute token, a membership "
        "source and a group factory");
  }
  const LabeledImages& train = options.data->train;
  ASSIGN_OR_RETURN(Mlp model,
                   Mlp::Create(options.job.model.LayerSizes(train.pixels_per_image(), 10)));
  ASSIGN_OR_RETURN(std::unique_ptr<Optimizer> optimizer,
                   MakeOptimizer(options.job.optimizer, model.num_parameters()));
  // A config built in code is refused here, not when the first group forms.
  ASSIGN_OR_RETURN(collectives::AlgorithmSelector selector,
                   collectives::AlgorithmSelector::FromConfig(options.job.collectives.allreduce));
  ASSIGN_OR_RETURN(LeaseTable leases,
                   LeaseTable::Create(train.size(), static_cast<uint32_t>(options.job.shard_size),
                                      options.job.seed));
  auto trainer = std::unique_ptr<Trainer>(new Trainer(std::move(options), std::move(model),
                                                      std::move(optimizer), std::move(leases),
                                                      std::move(selector)));
  const JobConfig& job = trainer->options_.job;
  if (!job.checkpoint_dir.empty()) {
    ASSIGN_OR_RETURN(auto checkpoint, LoadLatestCheckpoint(job.checkpoint_dir));
    if (checkpoint.has_value()) {
      RETURN_IF_ERROR(trainer->Restore(*checkpoint));
      // Its leases are numbered by the generation that wrote it, which may have had more
      // ranks than this one: ranks that do not exist here would hold their shards forever
      // and the epoch would never end (found by the control-plane simulation). Released,
      // their unconsumed samples are dealt again.
      trainer->leases_.ReleaseAll();
      spdlog::info("resumed from checkpoint in {} at step {}", job.checkpoint_dir,
                   checkpoint->step);
    }
  }
  return trainer;
}

Trainer::Trainer(TrainerOptions options, Mlp model, std::unique_ptr<Optimizer> optimizer,
                 LeaseTable leases, collectives::AlgorithmSelector selector)
    : options_(std::move(options)),
      model_(std::move(model)),
      optimizer_(std::move(optimizer)),
      leases_(std::move(leases)),
      selector_(std::move(selector)),
      params_(model_.num_parameters()),
      membership_(options_.initial),
      numbered_as_(options_.initial) {
  model_.InitParameters(absl::MakeSpan(params_), options_.job.seed);
}

std::string Trainer::Fingerprint() const {
  return MlpFingerprint(model_.layer_sizes(), optimizer_->name());
}

TrainingState Trainer::Snapshot() const {
  TrainingState state;
  state.fingerprint = Fingerprint();
  state.step = step_;
  state.epoch = epochs_completed_;
  state.parameters = params_;
  state.optimizer_state = optimizer_->state();
  state.optimizer_steps = optimizer_->step_count();
  state.lease_table = leases_.Serialize();
  // Every random choice (shard order, init) derives from (seed, epoch), so the seed is the
  // whole RNG state.
  state.rng = absl::StrCat("seed=", options_.job.seed);
  return state;
}

absl::Status Trainer::Restore(const TrainingState& state) {
  if (state.fingerprint != Fingerprint()) {
    return absl::FailedPreconditionError(absl::StrCat("training state is for '", state.fingerprint,
                                                      "', this job is '", Fingerprint(), "'"));
  }
  if (state.parameters.size() != params_.size() ||
      state.optimizer_state.size() != optimizer_->state().size()) {
    return absl::DataLossError("training state has the wrong number of parameters");
  }
  ASSIGN_OR_RETURN(LeaseTable leases, LeaseTable::Deserialize(state.lease_table));
  // In the edge tier the table holds one round's samples, as many as the round has.
  if (!EdgeMode() && leases.num_samples() != leases_.num_samples()) {
    return absl::FailedPreconditionError("training state is for a data set of another size");
  }
  leases_ = std::move(leases);
  params_ = state.parameters;
  optimizer_->state() = state.optimizer_state;
  optimizer_->set_step_count(state.optimizer_steps);
  step_ = state.step;
  epochs_completed_ = state.epoch;
  return absl::OkStatus();
}

absl::Status Trainer::FormGroup(const Membership& membership) {
  collectives::GroupOptions group_options;
  group_options.job_id = options_.job.name;
  group_options.generation = membership.generation;
  group_options.rank = membership.rank;
  group_options.world_size = membership.world_size;
  group_options.timeout = options_.job.collectives.timeout;
  group_options.advertise_address = options_.advertise_address;
  group_options.host_id = options_.host_id;
  group_options.selector = selector_;
  group_options.shared_memory = options_.job.collectives.shared_memory;
  group_options.shared_memory_bytes_per_rank =
      options_.job.collectives.shared_memory_bytes_per_rank;
  group_options.stop = options_.membership->SupersededToken(membership.generation);
  membership_ = membership;
  absl::StatusOr<std::unique_ptr<collectives::CollectiveGroup>> group =
      options_.create_group(group_options);
  if (!group.ok()) return FormFailure(group.status());
  group_ = *std::move(group);
  if (options_.metrics != nullptr) options_.metrics->generation.Set(membership.generation);
  return absl::OkStatus();
}

absl::Status Trainer::JoinGeneration(const Membership& next) {
  RETURN_IF_ERROR(FormGroup(next));
  ASSIGN_OR_RETURN(const int source, NewestStateRank());
  // An initial membership carries no rank map: the state is fresh or a checkpoint's, and a
  // checkpoint's leases were released when it was loaded.
  if (group_->rank() == source && !next.new_rank_of_old.empty()) {
    RETURN_IF_ERROR(leases_.Remap(next.new_rank_of_old));
    numbered_as_ = next;  // even if the broadcast below fails: the table is renumbered
  }
  RETURN_IF_ERROR(SyncStateFrom(source));
  numbered_as_ = next;
  if (EdgeMode()) RETURN_IF_ERROR(SyncRoundFrom(source));
  return absl::OkStatus();
}

absl::StatusOr<int> Trainer::NewestStateRank() {
  const int world = group_->world_size();
  if (world == 1) return 0;
  // Each rank puts its step in its own slots (split in 16-bit halves, exact in a float).
  std::vector<float> steps(2 * static_cast<size_t>(world), 0.0f);
  steps[2 * group_->rank()] = static_cast<float>(step_ >> 16);
  steps[2 * group_->rank() + 1] = static_cast<float>(step_ & 0xffff);
  RETURN_IF_ERROR(GroupFailure(group_->Allreduce(absl::MakeSpan(steps))));
  int newest = 0;
  int64_t newest_step = -1;
  for (int rank = 0; rank < world; ++rank) {
    const int64_t step =
        (static_cast<int64_t>(steps[2 * rank]) << 16) + static_cast<int64_t>(steps[2 * rank + 1]);
    if (step > newest_step) {  // ties go to the lowest rank
      newest = rank;
      newest_step = step;
    }
  }
  return newest;
}

absl::Status Trainer::SyncStateFrom(int source) {
  if (group_->world_size() == 1) return absl::OkStatus();
  std::string bytes = group_->rank() == source ? EncodeTrainingState(Snapshot()) : std::string();
  int64_t size = static_cast<int64_t>(bytes.size());
  RETURN_IF_ERROR(GroupFailure(
      group_->Broadcast(absl::Span<char>(reinterpret_cast<char*>(&size), sizeof(size)), source)));
  if (size < 0 || size > (int64_t{1} << 34)) {
    return GroupFailure(absl::DataLossError(
        absl::StrCat("rank ", source, " announced a training state of ", size, " bytes")));
  }
  bytes.resize(static_cast<size_t>(size));
  RETURN_IF_ERROR(
      GroupFailure(group_->Broadcast(absl::MakeSpan(bytes.data(), bytes.size()), source)));
  if (group_->rank() == source) return absl::OkStatus();
  // The source's bytes are a peer's: if they do not decode, this generation failed, not this
  // rank.
  absl::StatusOr<TrainingState> state =
      DecodeTrainingState(bytes, absl::StrCat("broadcast from rank ", source));
  if (!state.ok()) return GroupFailure(state.status());
  return GroupFailure(Restore(*state));
}

double Trainer::Progress() const {
  if (EdgeMode()) return round_.has_value() ? round_->round.progress() : 0.0;
  if (options_.job.steps > 0) {
    return static_cast<double>(step_) / static_cast<double>(options_.job.steps);
  }
  // Lease-table counters are replicated, so every rank computes the same value.
  const double epochs_done =
      static_cast<double>(leases_.epoch()) +
      static_cast<double>(leases_.consumed_in_epoch()) / static_cast<double>(leases_.num_samples());
  return epochs_done / static_cast<double>(options_.job.epochs);
}

bool Trainer::Finished() const {
  if (EdgeMode()) return round_.has_value() && round_->round.finished();
  if (options_.job.steps > 0) return step_ >= options_.job.steps;
  return epochs_completed_ >= options_.job.epochs;
}

absl::StatusOr<int64_t> Trainer::Step() {
  const int world = group_->world_size();
  const int rank = group_->rank();
  const size_t num_params = params_.size();
  // An edge replica's batch is the one it told the aggregator (a vehicle's may be its own).
  const int64_t batch = EdgeMode() ? options_.edge->options().batch : options_.job.global_batch;
  std::vector<uint32_t> quotas(world);
  for (int q = 0; q < world; ++q) {
    quotas[q] = static_cast<uint32_t>(batch / world + (q < batch % world ? 1 : 0));
  }
  const std::vector<std::vector<uint32_t>> plans = leases_.PlanStep(quotas);

  // The group's own buffer: gloo's algorithms are bound to it, so the allreduce needs no
  // setup and no copies.
  // Layout: gradient sums, the loss sum, how many samples of each rank's plan were done, each
  // rank's pending generation (a rank writes only its own generation slot, so the sum is the
  // gather), and whether rank 0 called an edge round's time up.
  const size_t cut_slot = num_params + 1 + 2 * world;
  const absl::Span<float> reduce = group_->StagingBuffer(cut_slot + 1);
  std::fill(reduce.begin(), reduce.end(), 0.0f);
  const absl::Span<float> grads = reduce.subspan(0, num_params);
  const LabeledImages& train = options_.data->train;
  const size_t pixels = static_cast<size_t>(train.pixels_per_image());
  const size_t micro = static_cast<size_t>(options_.job.micro_batch);

  std::vector<std::atomic<uint64_t>*> cells(world);
  std::vector<size_t> plan_sizes(world);
  for (int q = 0; q < world; ++q) {
    cells[q] = group_->SharedWorkCell(q);
    plan_sizes[q] = plans[q].size();
  }
  StepWork work(cells, step_, std::move(plan_sizes));
  std::vector<uint32_t> done_of_plan(world, 0);  // samples this rank computed of each plan
  double loss = 0;
  auto compute = [&](int plan, size_t begin, size_t end) {
    const size_t m = end - begin;
    batch_images_.resize(m * pixels);
    batch_labels_.resize(m);
    for (size_t i = 0; i < m; ++i) {
      const uint32_t sample = TrainingSample(plans[plan][begin + i]);
      std::memcpy(batch_images_.data() + i * pixels, train.image(sample), pixels * sizeof(float));
      batch_labels_[i] = train.labels[sample];
    }
    loss += model_.AccumulateGradients(params_, batch_images_.data(), batch_labels_.data(),
                                       static_cast<int>(m), grads, workspace_);
    done_of_plan[plan] += static_cast<uint32_t>(m);
  };
  // Time this step may still spend waiting for inference before giving up its remainder.
  absl::Duration resume_budget = options_.job.inference.resume_within;
  // The yield point: false when inference claimed the compute and did not give it back in
  // time. While this rank waits, its peers may take over the rest of its plan.
  auto may_continue = [&] {
    if (options_.token->TrainingMayRun()) return true;
    if (options_.metrics != nullptr) options_.metrics->preemptions.Increment();
    work.AskForHelp(rank);
    const absl::Time yielded = absl::Now();
    const bool resumed = options_.token->WaitWhileInferenceClaims(yielded + resume_budget);
    resume_budget -= absl::Now() - yielded;
    return resumed;
  };
  bool preempted = false;
  // This rank's own plan, then what is left of the others: of any peer still busy (work
  // stealing), or in a deterministic job only of peers that yielded to inference. Only peers
  // whose plan counter this rank shares (same host): of any other it cannot know what is left.
  const bool steal = !options_.job.deterministic;
  for (int offset = 0; offset < world && !preempted; ++offset) {
    const int plan = (rank + offset) % world;
    if (offset > 0 && !work.Shared(plan)) continue;
    while (offset == 0 || steal || work.WantsHelp(plan)) {
      if (!may_continue()) {
        preempted = true;
        break;
      }
      const auto [begin, end] = work.Claim(plan, micro);
      if (begin == end) break;
      compute(plan, begin, end);
    }
  }
  if (preempted) ++preempted_steps_;
  size_t done = 0;
  for (int q = 0; q < world; ++q) {
    reduce[num_params + 1 + q] = static_cast<float>(done_of_plan[q]);
    done += done_of_plan[q];
  }
  reduce[num_params] = static_cast<float>(loss);
  reduce[num_params + 1 + world + rank] =
      static_cast<float>(options_.membership->PendingGeneration());
  if (EdgeMode() && rank == 0 && absl::Now() >= round_->cut_at) reduce[cut_slot] = 1.0f;

  const absl::Time reduce_start = absl::Now();
  RETURN_IF_ERROR(GroupFailure(group_->Allreduce(reduce)));
  const absl::Duration reduce_time = absl::Now() - reduce_start;
  allreduce_time_ += reduce_time;
  if (options_.metrics != nullptr) {
    options_.metrics->allreduce_seconds.Observe(absl::ToDoubleSeconds(reduce_time));
    options_.metrics->allreduce_bytes.Increment(static_cast<double>(reduce.size() * sizeof(float)));
    options_.metrics->samples.Increment(static_cast<double>(done));
  }

  std::vector<uint32_t> done_by_rank(world);
  int64_t total = 0;
  for (int q = 0; q < world; ++q) {
    done_by_rank[q] = static_cast<uint32_t>(reduce[num_params + 1 + q]);
    total += done_by_rank[q];
    if (static_cast<int64_t>(reduce[num_params + 1 + world + q]) > membership_.generation) {
      membership_change_due_ = true;
    }
  }
  if (total > 0) {
    const float scale = 1.0f / static_cast<float>(total);
    for (float& g : grads) g *= scale;
    optimizer_->set_learning_rate(ScheduledLearningRate(options_.job.optimizer, Progress()));
    optimizer_->Step(absl::MakeSpan(params_), grads);
  }
  RETURN_IF_ERROR(leases_.CommitStep(done_by_rank));
  ++step_;
  if (EdgeMode()) {  // the table holds the round's samples; epochs are the aggregator's
    ++round_work_.inner_steps;
    round_work_.loss_sum += reduce[num_params];
    if (reduce[cut_slot] > 0) round_cut_ = true;
  } else if (leases_.epoch_done()) {
    epochs_completed_ = leases_.epoch() + 1;
  }
  last_step_loss_ = total > 0 ? reduce[num_params] / static_cast<double>(total) : 0;
  // Alone, a preempted rank has nobody to keep in step with: wait for inference to finish
  // instead of spinning through empty steps.
  if (preempted && done == 0 && world == 1) {
    options_.token->WaitWhileInferenceClaims();
  }
  return total;
}

absl::StatusOr<double> Trainer::Evaluate() {
  const LabeledImages& test = options_.data->test;
  const int world = group_->world_size();
  const size_t begin = test.size() * group_->rank() / world;
  const size_t end = test.size() * (group_->rank() + 1) / world;
  int64_t correct = 0;
  for (size_t i = begin; i < end; i += kEvalChunk) {
    const int n = static_cast<int>(std::min<size_t>(kEvalChunk, end - i));
    options_.token->WaitWhileInferenceClaims();  // evaluation waits rather than skipping
    correct += model_.CountCorrect(params_, test.image(i), test.labels.data() + i, n, workspace_);
  }
  std::vector<float> counts = {static_cast<float>(correct), static_cast<float>(end - begin)};
  RETURN_IF_ERROR(GroupFailure(group_->Allreduce(absl::MakeSpan(counts))));
  return counts[1] > 0 ? counts[0] / counts[1] : 0.0;
}

absl::Status Trainer::Recover(const absl::Status& failure) {
  if (!IsGroupFailure(failure)) return failure;
  NoteGroupFailure(membership_.generation, failure);
  return ChangeMembership();
}

void Trainer::NoteGroupFailure(int64_t generation, const absl::Status& failure) {
  if (absl::IsCancelled(failure)) {  // superseded: the newer generation is already assigned
    spdlog::info("generation {} superseded: {}", generation, std::string(failure.message()));
    return;
  }
  spdlog::warn("generation {} failed: {}", generation, std::string(failure.message()));
  options_.membership->GenerationFailed(generation, failure);
}

absl::Status Trainer::ChangeMembership() {
  int64_t newer_than = membership_.generation;
  while (true) {
    group_.reset();
    membership_change_due_ = false;
    absl::StatusOr<Membership> changed = options_.membership->Next(numbered_as_, newer_than);
    if (absl::IsCancelled(changed.status())) {
      spdlog::info("leaving the job at step {}: {}", step_, changed.status().ToString());
      left_job_ = true;
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(const Membership next, std::move(changed));
    if (next.rank < 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("this rank is not a member of generation ", next.generation));
    }
    // workers.min counts the job's members; in the edge tier a group is one replica of
    // them (a vehicle alone), and the scheduler keeps the job's count.
    if (!EdgeMode() && next.world_size < options_.job.min_workers) {
      return absl::FailedPreconditionError(
          absl::StrCat("generation ", next.generation, " has ", next.world_size,
                       " members, below workers.min ", options_.job.min_workers));
    }
    const absl::Status joined = JoinGeneration(next);
    if (joined.ok()) break;
    if (!IsGroupFailure(joined) || !options_.membership->ReplacesFailedGenerations()) {
      return joined;
    }
    // Superseded while forming, or a peer never came or left: not this rank's failure. The
    // scheduler hears of it and forms a newer generation, which this rank joins.
    NoteGroupFailure(next.generation, joined);
    newer_than = next.generation;
  }
  spdlog::info("generation {}: {} members, this is rank {}, continuing at step {}",
               membership_.generation, membership_.world_size, membership_.rank, step_);
  if (options_.on_progress) {
    TrainingProgress progress{TrainingProgress::Kind::kMembership};
    progress.step = VersionStep();
    progress.generation = membership_.generation;
    progress.world_size = membership_.world_size;
    options_.on_progress(progress);
  }
  return absl::OkStatus();
}

absl::Status Trainer::MaybeCheckpoint() {
  const JobConfig& job = options_.job;
  if (job.checkpoint_dir.empty() || job.checkpoint_interval_steps <= 0 ||
      step_ % job.checkpoint_interval_steps != 0 || group_->rank() != 0) {
    return absl::OkStatus();
  }
  return WriteCheckpoint(job.checkpoint_dir, Snapshot()).status();
}

void Trainer::MaybePublishVersion(double test_accuracy) {
  if (options_.inference == nullptr) return;
  // In the edge tier a replica's own parameters drift from the job's between rounds: it
  // serves the round's start, the job's global parameters, once per outer step.
  if (EdgeMode() && !round_.has_value()) return;
  const int64_t step = VersionStep();
  const bool due = published_step_ < 0 || test_accuracy >= 0 ||
                   (step != published_step_ &&
                    (EdgeMode() || step % options_.job.serving.publish_every_steps == 0));
  if (!due) return;
  ModelVersion version;
  version.model = options_.job.serving.model;
  version.step = step;
  version.test_accuracy = test_accuracy;
  version.published = absl::Now();
  options_.inference->PublishVersion(std::move(version), EdgeMode() ? round_->start : params_);
  published_step_ = step;
}

absl::StatusOr<TrainingResult> Trainer::Run() {
  const absl::Time start = absl::Now();
  // Training is batch work: inference threads take this core the moment they wake.
  if (absl::Status lowered = MakeThisThreadBackground(); !lowered.ok()) {
    spdlog::warn("trainer keeps normal priority, so inference may wait for it: {}",
                 lowered.ToString());
  }
  if (absl::Status joined = JoinGeneration(options_.initial); !joined.ok()) {
    RETURN_IF_ERROR(Recover(joined));
  }
  if (options_.metrics != nullptr) options_.metrics->SetTraining(true);
  int64_t total_samples = 0;
  int64_t window_samples = 0;
  double window_loss = 0;
  int64_t window_steps = 0;
  absl::Time window_start = absl::Now();
  double accuracy = -1;
  int64_t evaluated_epochs = epochs_completed_;

  while (!left_job_) {
    if (EdgeMode()) {
      if (absl::Status boundary = EdgeRoundBoundary(&accuracy); !boundary.ok()) {
        RETURN_IF_ERROR(Recover(boundary));
        continue;
      }
      if (left_job_) break;
      // The aggregator says when to evaluate: once an epoch, on one replica, at a round's start.
      const bool asked = round_->round.evaluate() && round_work_.test_accuracy < 0;
      evaluated_epochs = asked ? -1 : epochs_completed_;
    }
    MaybePublishVersion(-1);
    if (epochs_completed_ > evaluated_epochs || (Finished() && accuracy < 0)) {
      auto evaluated = Evaluate();
      if (!evaluated.ok()) {
        RETURN_IF_ERROR(Recover(evaluated.status()));
        continue;
      }
      accuracy = *evaluated;
      evaluated_epochs = epochs_completed_;
      if (EdgeMode()) round_work_.test_accuracy = accuracy;  // goes with the contribution
      MaybePublishVersion(accuracy);
      if (options_.metrics != nullptr) options_.metrics->test_accuracy.Set(accuracy);
      if (options_.on_progress) {
        TrainingProgress progress{TrainingProgress::Kind::kEpoch};
        progress.step = VersionStep();
        progress.epoch = epochs_completed_;
        progress.test_accuracy = accuracy;
        progress.generation = membership_.generation;
        progress.world_size = group_->world_size();
        options_.on_progress(progress);
      }
    }
    if (Finished()) break;
    // A round with nothing to train (joined too late in it): contribute nothing and wait for
    // the next.
    if (EdgeMode() && RoundDone()) continue;
    const absl::Time step_start = absl::Now();
    auto trained = Step();
    if (!trained.ok()) {
      RETURN_IF_ERROR(Recover(trained.status()));
      continue;
    }
    accuracy = -1;  // stale after a step
    if (EdgeMode()) round_work_.train_seconds += absl::ToDoubleSeconds(absl::Now() - step_start);
    total_samples += *trained;
    window_samples += *trained;
    window_loss += last_step_loss_;
    ++window_steps;
    if (options_.metrics != nullptr) {
      options_.metrics->steps.Increment();
      options_.metrics->step_seconds.Observe(absl::ToDoubleSeconds(absl::Now() - step_start));
    }
    if (step_ % options_.job.log_every_steps == 0 && options_.on_progress) {
      const double seconds = absl::ToDoubleSeconds(absl::Now() - window_start);
      TrainingProgress progress{TrainingProgress::Kind::kStep};
      progress.step = VersionStep();
      progress.epoch = leases_.epoch();
      progress.loss = window_loss / std::max<int64_t>(window_steps, 1);
      progress.samples_per_second = seconds > 0 ? window_samples / seconds : 0;
      progress.generation = membership_.generation;
      progress.world_size = group_->world_size();
      options_.on_progress(progress);
      window_samples = 0;
      window_loss = 0;
      window_steps = 0;
      window_start = absl::Now();
    }
    RETURN_IF_ERROR(MaybeCheckpoint());
    if (membership_change_due_) RETURN_IF_ERROR(ChangeMembership());
  }
  if (!left_job_ && group_->world_size() > 1) {
    // No rank closes its connections before every peer is done with the last collective.
    // gloo fails a wait whose message arrived together with the sender's FIN (it checks the
    // pair's error before the completion), so a rank that finished first and went away
    // could fail a slower peer's last allreduce (seen once in about 25 job ends across
    // emulated hosts with 20 Mbit/s links, tests/cross_host_test.cc).
    // Past this barrier every peer has finished its own last operation; the barrier's own
    // outcome does not matter (the same race may fail it for a peer that leaves it last).
    if (const absl::Status closing = group_->Barrier(); !closing.ok()) {
      spdlog::debug("closing barrier: {}", closing.ToString());
    }
  }
  if (options_.metrics != nullptr) options_.metrics->SetTraining(false);
  if (!left_job_ && !options_.job.checkpoint_dir.empty() && group_->rank() == 0) {
    RETURN_IF_ERROR(WriteCheckpoint(options_.job.checkpoint_dir, Snapshot()).status());
  }
  TrainingResult result;
  result.test_accuracy = accuracy;
  result.steps = VersionStep();
  result.inner_steps = step_;
  result.epochs = epochs_completed_;
  result.wall_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.samples = total_samples;
  result.samples_per_second = result.wall_seconds > 0 ? total_samples / result.wall_seconds : 0;
  result.generations = membership_.generation + 1;
  result.preempted_steps = preempted_steps_;
  result.parameter_checksum = Crc32(params_);
  result.left_job = left_job_;
  result.trainer_cpu_seconds = ThisThreadCpuSeconds();
  result.allreduce_seconds = absl::ToDoubleSeconds(allreduce_time_);
  return result;
}

}  // namespace cosched::worker
