// File: worker/trainer/trainer.h
// Trainer: synchronous data-parallel training of one job on one rank.
//
// Each step, every rank plans every rank's samples from the replicated LeaseTable, trains on
// its own in micro-batches, and allreduces one buffer holding
//   [ sum of per-sample gradients | sum of losses | samples done by rank 0..W-1 ]
// so the mean gradient is exact whatever each rank contributed, including nothing. Before
// each micro-batch (a yield point) it asks the ComputeToken; when inference wants the
// compute it stops, and joins the allreduce with what it finished, so peers never wait on
// it; its unfinished samples go back to the lease queue.
//
// When a collective fails (a peer died or stalled), the trainer asks its MembershipSource
// for the next generation, forms that group, adopts the committed state of the new rank 0
// (broadcast), hands the leavers' leases back and carries on: no process restarts.
//
// In the edge tier (TrainerOptions::edge set, trainer_edge.cc) the group is one replica of
// the job: the data-center members together, or one vehicle alone. It trains in outer rounds:
// its rank 0 gets a round from the aggregator (the parameters, the samples leased to the
// replica, the inner steps) and broadcasts it; the group trains those samples in steps as
// above, with the round's samples in place of the job's lease table; then rank 0 sends the
// pseudo-gradient and gets the next round. The data set's epochs, the learning-rate schedule
// and the job's end are the aggregator's.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "collectives/collective_group.h"
#include "common/job_config.h"
#include "worker/data/idx_reader.h"
#include "worker/data/lease_table.h"
#include "worker/edge/edge_client.h"
#include "worker/inference/compute_token.h"
#include "worker/inference/inference_engine.h"
#include "worker/models/mlp.h"
#include "worker/models/optimizer.h"
#include "worker/trainer/membership.h"
#include "worker/trainer/training_state.h"
#include "worker/worker_metrics.h"

namespace cosched::worker {

using GroupFactory = std::function<absl::StatusOr<std::unique_ptr<collectives::CollectiveGroup>>(
    const collectives::GroupOptions&)>;

// What the trainer reports as it goes (rank 0 prints these; tests collect them).
struct TrainingProgress {
  enum class Kind { kStep, kEpoch, kMembership };
  Kind kind;
  int64_t step = 0;
  int64_t epoch = 0;
  double loss = 0;                // mean loss of the last log window
  double samples_per_second = 0;  // all ranks, over the last log window
  double test_accuracy = 0;       // kEpoch only
  int64_t generation = 0;
  int world_size = 0;
};

struct TrainingResult {
  double test_accuracy = 0;
  int64_t steps = 0;  // the job's: its outer steps in the edge tier
  int64_t epochs = 0;
  int64_t inner_steps = 0;        // this replica's steps (in the edge tier; else `steps`)
  int64_t samples = 0;            // trained by all ranks, over the whole run
  double samples_per_second = 0;  // all ranks, over the whole run
  double wall_seconds = 0;
  int64_t generations = 1;
  int64_t preempted_steps = 0;      // steps this rank cut short for inference
  uint32_t parameter_checksum = 0;  // CRC-32 of the final parameters (identical on all ranks)
  double trainer_cpu_seconds = 0;   // CPU time of the training thread (benchmarks subtract it
                                    // from the process's to find what inference used)
  double allreduce_seconds = 0;     // in step allreduces, including waiting for peers
  bool left_job = false;  // this rank was taken out of the job (revoked) before it finished
};

struct TrainerOptions {
  JobConfig job;
  const FashionMnist* data = nullptr;
  Membership initial;         // generation 0: rank and world size
  GroupFactory create_group;  // forms a generation's CollectiveGroup
  // This rank's own address for its peers, and its host id (empty: this machine's); the
  // worker decides them (cosched-worker --advertise-address, --host-id), never the job.
  std::string advertise_address = "127.0.0.1";
  std::string host_id;
  MembershipSource* membership = nullptr;
  ComputeToken* token = nullptr;
  // Optional: gets a version of the model (job.serving) every job.serving.publish_every_steps
  // steps, after every evaluation and once this rank holds the job's state.
  InferenceEngine* inference = nullptr;
  WorkerMetrics* metrics = nullptr;                          // optional
  std::function<void(const TrainingProgress&)> on_progress;  // optional
  // The edge tier: this rank's client of the job's aggregator (every rank of the replica has
  // one; its rank 0 uses it). Null: synchronous training of the whole job.
  edge::EdgeClient* edge = nullptr;
};

class Trainer {
 public:
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(TrainerOptions options);
  absl::StatusOr<TrainingResult> Run();

  // The committed state (what checkpoints hold and new members receive).
  TrainingState Snapshot() const;
  const std::vector<float>& parameters() const { return params_; }
  int64_t step() const { return step_; }

 private:
  Trainer(TrainerOptions options, Mlp model, std::unique_ptr<Optimizer> optimizer,
          LeaseTable leases, collectives::AlgorithmSelector selector);

  absl::Status FormGroup(const Membership& membership);
  // Forms `next`'s group and brings every member to the newest committed state among them,
  // renumbered for `next` (its holder renumbers before it broadcasts, so every member ends
  // with the same table).
  absl::Status JoinGeneration(const Membership& next);
  // The rank whose state is newest (the highest step; the lowest rank among equals). Not
  // always rank 0: a member the scheduler counts as a survivor may never have received the
  // state (it joined generations that never formed), while a newcomer may hold a checkpoint.
  // Found by the control-plane simulation (sim/control_plane), where rank 0's fresh state
  // replaced a trained one.
  absl::StatusOr<int> NewestStateRank();
  // The committed state of `source` replaces everyone's (after a membership change or at
  // start).
  absl::Status SyncStateFrom(int source);
  absl::Status Restore(const TrainingState& state);
  // One synchronous step; returns the number of samples all ranks trained on.
  absl::StatusOr<int64_t> Step();
  absl::StatusOr<double> Evaluate();
  // After a failure: a failure of the group (a peer died or left, the generation was
  // superseded) moves on to the next generation; this rank's own error is returned.
  absl::Status Recover(const absl::Status& failure);
  // Logs a failure of generation `generation`'s group and, unless it was superseded (a newer
  // generation is already assigned), tells the membership source.
  void NoteGroupFailure(int64_t generation, const absl::Status& failure);
  // Moves to the next generation (after a failure, or when a member announced a newer one),
  // and on to newer ones while the one it tries cannot form for reasons not its own.
  absl::Status ChangeMembership();
  absl::Status MaybeCheckpoint();
  // Hands the inference engine the committed weights as a version of the job's model, when
  // the cadence (or a new accuracy, `test_accuracy` >= 0) calls for one. One copy of the
  // parameters per version, not per step: training does not pay for serving.
  void MaybePublishVersion(double test_accuracy);
  bool Finished() const;
  // Fraction of the job done, from replicated state (drives the learning-rate schedule).
  double Progress() const;
  std::string Fingerprint() const;

  // The edge tier (trainer_edge.cc).
  bool EdgeMode() const { return options_.edge != nullptr; }
  // At a step boundary: joins the rounds, or contributes the finished round and adopts the
  // next, and evaluates when the aggregator asks. `accuracy` gets an evaluation's result.
  absl::Status EdgeRoundBoundary(double* accuracy);
  bool RoundDone() const;
  // Rank 0 contributes the round just trained (or joins) and shares the next round with the
  // replica's other ranks.
  absl::Status ShareNextRound();
  // Rank 0 reaches the aggregator (`fetch`) while the others wait in broadcasts, which it
  // repeats at every poll so nobody's collective times out; then every rank adopts the round.
  absl::Status ShareRound(
      const std::function<absl::StatusOr<std::optional<edge::EdgeRoundPlan>>()>& fetch,
      const std::function<absl::StatusOr<std::optional<edge::EdgeRoundPlan>>()>& poll);
  absl::Status AdoptRound(edge::EdgeRoundPlan plan);
  // After a membership change inside the replica: the round in progress of rank `source`
  // (none, if it has none) replaces everyone's.
  absl::Status SyncRoundFrom(int source);
  // This replica's sustained training time per sample, measured on its own samples.
  double MeasureSecondsPerSample();
  // The sample a step's plan index names: the round's sample in the edge tier.
  uint32_t TrainingSample(uint32_t planned) const;
  // The version a publication is named by: the step, or the outer step in the edge tier.
  int64_t VersionStep() const;

  const TrainerOptions options_;
  const Mlp model_;
  std::unique_ptr<Optimizer> optimizer_;
  LeaseTable leases_;
  const collectives::AlgorithmSelector selector_;  // from the job's allreduce config
  std::vector<float> params_;
  std::vector<float> batch_images_;
  std::vector<uint8_t> batch_labels_;
  Mlp::Workspace workspace_;
  int64_t step_ = 0;
  int64_t published_step_ = -1;  // the step of the last version handed to inference
  int64_t epochs_completed_ = 0;
  int64_t preempted_steps_ = 0;
  absl::Duration allreduce_time_;  // in the step's allreduce, including waiting for peers
  double last_step_loss_ = 0;      // mean loss over all ranks' samples of the last step
  // Set by a step whose allreduce showed a member assigned a newer generation.
  bool membership_change_due_ = false;
  bool left_job_ = false;
  Membership membership_;  // the generation of group_ (or the last one tried)
  // The generation whose rank numbering the lease table uses: the last one this rank
  // renumbered for or received rank 0's state in. Rank maps to a new generation start here.
  Membership numbered_as_;
  std::unique_ptr<collectives::CollectiveGroup> group_;
  // The edge tier: the round being trained (on every rank of the replica), what the replica
  // did in it so far, and whether rank 0 called the round's time up (agreed in a step).
  std::optional<edge::EdgeRoundPlan> round_;
  edge::RoundWork round_work_;
  bool round_cut_ = false;
};

}  // namespace cosched::worker
