// File: worker/trainer/trainer_edge.cc
// The trainer's edge-tier mode (trainer.h): outer rounds with the job's aggregator.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "worker/trainer/group_failure.h"
#include "worker/trainer/trainer.h"

namespace cosched::worker {
namespace {

// Broadcast headers while rank 0 talks to the aggregator: still waiting, or it failed.
constexpr int64_t kRoundPending = -1;
constexpr int64_t kRoundFailed = -2;

// The largest round state a peer may announce (parameters and samples; the default MLP's is
// about 1.4 MB).
constexpr int64_t kMaxRoundBytes = int64_t{1} << 31;

// How long a replica measures its training speed before it joins the rounds.
constexpr absl::Duration kRateMeasureSpan = absl::Milliseconds(250);

}  // namespace

bool Trainer::RoundDone() const {
  if (!round_.has_value()) return true;
  if (round_->round.finished()) return false;  // nothing left to contribute
  return round_->round.samples().empty() || leases_.epoch_done() || round_cut_;
}

uint32_t Trainer::TrainingSample(uint32_t planned) const {
  return EdgeMode() ? round_->round.samples(static_cast<int>(planned)) : planned;
}

int64_t Trainer::VersionStep() const {
  if (!EdgeMode()) return step_;
  return round_.has_value() ? round_->round.outer_step() : 0;
}

double Trainer::MeasureSecondsPerSample() {
  const LabeledImages& train = options_.data->train;
  const int count = static_cast<int>(std::min<size_t>(options_.job.micro_batch, train.size()));
  std::vector<float> grads(params_.size(), 0.0f);
  auto one_batch = [&] {
    model_.AccumulateGradients(params_, train.image(0), train.labels.data(), count,
                               absl::MakeSpan(grads), workspace_);
  };
  one_batch();  // pays for cold caches
  // Wall time over a span longer than a CFS period (100 ms): a host whose CPU quota is a
  // fraction runs a short burst at full speed, so a few batches alone measure the burst, and
  // a round sized by it is late.
  const absl::Time start = absl::Now();
  int64_t samples = 0;
  do {
    one_batch();
    samples += count;
  } while (absl::Now() - start < kRateMeasureSpan);
  // The replica's ranks train side by side.
  return absl::ToDoubleSeconds(absl::Now() - start) / static_cast<double>(samples) /
         group_->world_size();
}

absl::Status Trainer::EdgeRoundBoundary(double* accuracy) {
  if (!RoundDone()) return absl::OkStatus();
  absl::Status shared = ShareNextRound();
  if (absl::IsPermissionDenied(shared) || absl::IsFailedPrecondition(shared)) {
    // The aggregator no longer counts this replica in the job (it was revoked, or moved to
    // the other tier, while it trained): a membership change, not this rank's error. The
    // next membership says whether it left; if it stays, it joins the rounds afresh.
    round_.reset();
    return GroupFailure(std::move(shared));
  }
  RETURN_IF_ERROR(shared);
  *accuracy = -1;  // new parameters
  return absl::OkStatus();
}

absl::Status Trainer::ShareNextRound() {
  edge::EdgeClient& client = *options_.edge;
  auto await = [&client] { return client.Await(); };
  if (!round_.has_value()) {
    const double seconds_per_sample = group_->rank() == 0 ? MeasureSecondsPerSample() : 0;
    RETURN_IF_ERROR(ShareRound(
        [&]() -> absl::StatusOr<std::optional<edge::EdgeRoundPlan>> {
          ASSIGN_OR_RETURN(edge::EdgeRoundPlan plan, client.Join(params_, seconds_per_sample));
          return std::optional<edge::EdgeRoundPlan>(std::move(plan));
        },
        await));
  } else {
    edge::RoundWork work = round_work_;
    if (!round_->round.samples().empty()) {
      for (uint32_t position : leases_.Unconsumed()) work.unfinished.push_back(position);
    }
    const edge::EdgeRoundPlan& plan = *round_;
    RETURN_IF_ERROR(ShareRound([&] { return client.Contribute(plan, params_, work); }, await));
  }
  return absl::OkStatus();
}

absl::Status Trainer::ShareRound(
    const std::function<absl::StatusOr<std::optional<edge::EdgeRoundPlan>>()>& fetch,
    const std::function<absl::StatusOr<std::optional<edge::EdgeRoundPlan>>()>& poll) {
  const bool alone = group_->world_size() == 1;
  auto broadcast_header = [&](int64_t header) {
    return group_->Broadcast(absl::Span<char>(reinterpret_cast<char*>(&header), sizeof(header)), 0);
  };
  if (group_->rank() == 0) {
    absl::StatusOr<std::optional<edge::EdgeRoundPlan>> next = fetch();
    while (next.ok() && !next->has_value()) {
      if (!alone) RETURN_IF_ERROR(GroupFailure(broadcast_header(kRoundPending)));
      next = poll();
    }
    if (!next.ok()) {
      if (!alone) (void)broadcast_header(kRoundFailed);  // the peers re-form without this rank
      return next.status();
    }
    edge::EdgeRoundPlan plan = **std::move(next);
    if (!alone) {
      cosched::v1::EdgeRound wire = plan.round;
      cosched::v1::EncodedTensor& start = *wire.mutable_parameters();
      start.set_codec("none");
      start.set_count(plan.start.size());
      start.set_data(edge::Compress(edge::Compression::kNone, plan.start));
      std::string bytes = wire.SerializeAsString();
      RETURN_IF_ERROR(GroupFailure(broadcast_header(static_cast<int64_t>(bytes.size()))));
      RETURN_IF_ERROR(
          GroupFailure(group_->Broadcast(absl::MakeSpan(bytes.data(), bytes.size()), 0)));
    }
    return AdoptRound(std::move(plan));
  }
  int64_t header = kRoundPending;
  while (header == kRoundPending) {
    RETURN_IF_ERROR(GroupFailure(
        group_->Broadcast(absl::Span<char>(reinterpret_cast<char*>(&header), sizeof(header)), 0)));
  }
  if (header == kRoundFailed) {
    return GroupFailure(absl::UnavailableError("rank 0 could not reach the edge aggregator"));
  }
  if (header < 0 || header > kMaxRoundBytes) {
    return GroupFailure(
        absl::DataLossError(absl::StrCat("rank 0 announced an edge round of ", header, " bytes")));
  }
  std::string bytes(static_cast<size_t>(header), '\0');
  RETURN_IF_ERROR(GroupFailure(group_->Broadcast(absl::MakeSpan(bytes.data(), bytes.size()), 0)));
  cosched::v1::EdgeRound wire;
  if (!wire.ParseFromString(bytes) || wire.parameters().count() != params_.size()) {
    return GroupFailure(absl::DataLossError("rank 0's edge round does not decode"));
  }
  edge::EdgeRoundPlan plan;
  plan.start.resize(params_.size());
  RETURN_IF_ERROR(
      GroupFailure(edge::Decompress(edge::Compression::kNone, wire.parameters().data(),
                                    absl::MakeSpan(plan.start), "rank 0's edge round")));
  wire.clear_parameters();
  plan.round = std::move(wire);
  plan.cut_at = absl::InfiniteFuture();  // rank 0 calls the time up
  return AdoptRound(std::move(plan));
}

absl::Status Trainer::AdoptRound(edge::EdgeRoundPlan plan) {
  if (plan.start.size() != params_.size()) {
    return absl::DataLossError(absl::StrCat("round ", plan.round.round(), " has ",
                                            plan.start.size(), " parameters, the model ",
                                            params_.size()));
  }
  for (uint32_t sample : plan.round.samples()) {
    if (sample >= options_.data->train.size()) {
      return absl::DataLossError(absl::StrCat("round ", plan.round.round(), " leases sample ",
                                              sample, " of a data set of ",
                                              options_.data->train.size()));
    }
  }
  if (!plan.round.samples().empty()) {
    // The round's samples, dealt to the ranks in steps as the job's lease table deals the
    // data set (preempted ranks' leftovers go to the others). Index i is round sample i.
    ASSIGN_OR_RETURN(
        leases_, LeaseTable::Create(static_cast<uint64_t>(plan.round.samples_size()),
                                    static_cast<uint32_t>(options_.job.shard_size),
                                    options_.job.seed + static_cast<uint64_t>(plan.round.round())));
  }
  params_ = plan.start;
  epochs_completed_ = plan.round.epoch();
  round_ = std::move(plan);
  round_work_ = edge::RoundWork();
  round_cut_ = false;
  if (round_->round.finished()) {
    spdlog::info("edge tier: the job ended after {} outer steps", round_->round.outer_step());
  } else {
    spdlog::debug("edge round {}: {} samples in {} inner steps", round_->round.round(),
                  round_->round.samples_size(), round_->round.inner_steps());
  }
  return absl::OkStatus();
}

absl::Status Trainer::SyncRoundFrom(int source) {
  if (group_->world_size() == 1) return absl::OkStatus();
  // The round, its start and what was done in it, as rank `source` has them.
  std::string bytes;
  if (group_->rank() == source && round_.has_value()) {
    cosched::v1::EdgeRound wire = round_->round;
    cosched::v1::EncodedTensor& start = *wire.mutable_parameters();
    start.set_codec("none");
    start.set_count(round_->start.size());
    start.set_data(edge::Compress(edge::Compression::kNone, round_->start));
    bytes = wire.SerializeAsString();
  }
  // The time left to the round's cut, where the source knows it (it was rank 0); -1: unknown.
  const bool knows_cut = round_.has_value() && round_->cut_at != absl::InfiniteFuture();
  double work[5] = {
      static_cast<double>(round_work_.inner_steps), round_work_.loss_sum, round_work_.train_seconds,
      round_cut_ ? 1.0 : 0.0,
      knows_cut ? std::max(0.0, absl::ToDoubleSeconds(round_->cut_at - absl::Now())) : -1.0};
  int64_t size = static_cast<int64_t>(bytes.size());
  RETURN_IF_ERROR(GroupFailure(
      group_->Broadcast(absl::Span<char>(reinterpret_cast<char*>(&size), sizeof(size)), source)));
  RETURN_IF_ERROR(GroupFailure(
      group_->Broadcast(absl::Span<char>(reinterpret_cast<char*>(work), sizeof(work)), source)));
  if (size < 0 || size > kMaxRoundBytes) {
    return GroupFailure(absl::DataLossError(
        absl::StrCat("rank ", source, " announced an edge round of ", size, " bytes")));
  }
  bytes.resize(static_cast<size_t>(size));
  if (size > 0) {
    RETURN_IF_ERROR(
        GroupFailure(group_->Broadcast(absl::MakeSpan(bytes.data(), bytes.size()), source)));
  }
  if (group_->rank() == source) {
    // A source that was not rank 0 did not hear the round's deadline: if it is rank 0 now,
    // it ends the round at once rather than risk being late (what it did not train goes back).
    if (round_.has_value() && round_->cut_at == absl::InfiniteFuture() && group_->rank() == 0) {
      round_->cut_at = absl::Now();
    }
    return absl::OkStatus();
  }
  if (size == 0) {  // the source has no round: the replica joins the rounds again
    round_.reset();
    return absl::OkStatus();
  }
  cosched::v1::EdgeRound wire;
  if (!wire.ParseFromString(bytes) || wire.parameters().count() != params_.size()) {
    return GroupFailure(
        absl::DataLossError(absl::StrCat("rank ", source, "'s edge round does not decode")));
  }
  edge::EdgeRoundPlan plan;
  plan.start.resize(params_.size());
  RETURN_IF_ERROR(GroupFailure(edge::Decompress(edge::Compression::kNone, wire.parameters().data(),
                                                absl::MakeSpan(plan.start),
                                                absl::StrCat("rank ", source, "'s edge round"))));
  wire.clear_parameters();
  plan.round = std::move(wire);
  // Only rank 0 calls the time up, by the source's clock when it knew the cut, else at once.
  plan.cut_at = work[4] >= 0 ? absl::Now() + absl::Seconds(work[4]) : absl::Now();
  // The source's state (parameters, lease table) came with SyncStateFrom; keep them.
  round_ = std::move(plan);
  round_work_.inner_steps = static_cast<int64_t>(work[0]);
  round_work_.loss_sum = work[1];
  round_work_.train_seconds = work[2];
  round_cut_ = work[3] > 0;
  return absl::OkStatus();
}

}  // namespace cosched::worker
