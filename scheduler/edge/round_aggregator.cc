// File: scheduler/edge/round_aggregator.cc
#include "scheduler/edge/round_aggregator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "scheduler/edge/link_codec.h"

namespace cosched::scheduler::edge {
namespace {

using cosched::v1::EdgeContribution;
using cosched::v1::EdgeJoin;
using cosched::v1::EdgeRound;
using cosched::v1::EncodedTensor;
using worker::edge::Compression;
using worker::edge::CompressionName;

// The share of the round after the quorum of over-selection that still waits for the rest.
constexpr double kGraceFraction = 0.1;
// Time kept for the upload's start and the round's bookkeeping in send_within_seconds.
constexpr double kSendMarginSeconds = 0.5;
// Fixed slack added to an automatic deadline.
constexpr double kDeadlineSlackSeconds = 2;
// What an automatic deadline budgets per inner step of a replica whose rate is unknown.
constexpr double kUnknownSecondsPerStep = 1;
// A mid-round joiner gives itself this factor of margin on its expected time.
constexpr double kMidRoundMargin = 1.5;
// Faster replicas take at most this many times H inner steps.
constexpr int64_t kMaxStepsFactor = 16;
// Larger batches are surely a mistake (and would overflow steps * batch).
constexpr int64_t kMaxBatch = int64_t{1} << 32;
// Relative slack in floor(T / t) so that a ratio that is an integer in exact arithmetic is not
// rounded down by floating point.
constexpr double kRatioSlack = 1e-9;

const char* LinkClass(const std::string& replica) {
  return replica == kDatacenterReplica ? "datacenter" : "vehicle";
}

// Contributions after which over-selection stops waiting for the rest (after a grace period).
double Quorum(int64_t invited, double over_select) {
  return std::ceil(static_cast<double>(invited) / (1 + over_select) - kRatioSlack);
}

int64_t FloorRatio(double numerator, double denominator) {
  const double ratio = numerator / denominator * (1 + kRatioSlack);
  if (!(ratio < 1e15)) return int64_t{1} << 50;  // huge or not a number: clamped by the caller
  return static_cast<int64_t>(std::floor(ratio));
}

}  // namespace

absl::StatusOr<std::unique_ptr<RoundAggregator>> RoundAggregator::Create(const JobConfig& job,
                                                                         uint64_t dataset_samples) {
  if (!job.edge.enabled) {
    return absl::InvalidArgumentError(
        absl::StrCat("job '", job.name, "' has no edge section: it has no outer rounds"));
  }
  std::optional<Compression> codec;  // auto
  if (job.edge.compression != "auto") {
    absl::StatusOr<Compression> fixed = worker::edge::ParseCompression(job.edge.compression);
    if (!fixed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "job '", job.name, "': edge.compression: ", fixed.status().message(), " (or auto)"));
    }
    codec = *fixed;
  }
  if (job.edge.local_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat("job '", job.name, "': edge.local_steps is ",
                                                   job.edge.local_steps, "; must be >= 1"));
  }
  if (!(job.edge.over_select >= 0) || !std::isfinite(job.edge.over_select)) {
    return absl::InvalidArgumentError(absl::StrCat("job '", job.name, "': edge.over_select is ",
                                                   job.edge.over_select, "; must be >= 0"));
  }
  if (job.edge.round_deadline.has_value() && *job.edge.round_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("job '", job.name, "': edge.round_deadline is ",
                                                   absl::FormatDuration(*job.edge.round_deadline),
                                                   "; must be positive"));
  }
  if (job.steps <= 0 && job.epochs <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "job '", job.name, "': neither steps nor epochs is positive: the job would never end"));
  }
  if (dataset_samples < 1 || dataset_samples > (uint64_t{1} << 32)) {
    return absl::InvalidArgumentError(absl::StrCat("job '", job.name, "': dataset_samples is ",
                                                   dataset_samples, "; must be in [1, 2^32]"));
  }
  // The outer optimizer is built at seeding, when the model's size is known; check its
  // settings now.
  absl::StatusOr<std::unique_ptr<worker::Optimizer>> probe =
      worker::edge::MakeOuterOptimizer(job.edge, 1);
  if (!probe.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("job '", job.name, "': edge.outer_optimizer: ", probe.status().message()));
  }
  return std::unique_ptr<RoundAggregator>(
      new RoundAggregator(job, dataset_samples, codec, /*outer=*/nullptr));
}

RoundAggregator::RoundAggregator(JobConfig job, uint64_t dataset_samples,
                                 std::optional<Compression> codec,
                                 std::unique_ptr<worker::Optimizer> outer)
    : job_(std::move(job)),
      fixed_codec_(codec),
      // An epochs job deals no sample past its last epoch; a steps job deals on.
      dealer_(dataset_samples, job_.seed, job_.steps > 0 ? 0 : job_.epochs),
      outer_(std::move(outer)) {}

absl::StatusOr<EdgeRound> RoundAggregator::Join(const EdgeJoin& join, absl::Time now,
                                                absl::Time departs_at) {
  const std::string& id = join.replica();
  if (id.empty()) return absl::InvalidArgumentError("join: replica is empty");
  const bool vehicle = id != kDatacenterReplica;
  if (vehicle && id != join.node_id()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "join: replica '", id, "' is not node_id '", join.node_id(),
        "': a vehicle speaks only for itself (or the replica is '", kDatacenterReplica, "')"));
  }
  if (join.dataset_samples() != dealer_.num_samples()) {
    return absl::InvalidArgumentError(absl::StrCat("join of replica '", id, "': dataset_samples ",
                                                   join.dataset_samples(), " is not the job's ",
                                                   dealer_.num_samples()));
  }
  if (join.batch() < 1 || join.batch() > kMaxBatch) {
    return absl::InvalidArgumentError(absl::StrCat("join of replica '", id, "': batch is ",
                                                   join.batch(), "; must be in [1, ", kMaxBatch,
                                                   "]"));
  }
  if (!(join.seconds_per_sample() >= 0) || !std::isfinite(join.seconds_per_sample())) {
    return absl::InvalidArgumentError(absl::StrCat("join of replica '", id,
                                                   "': seconds_per_sample is ",
                                                   join.seconds_per_sample(), "; must be >= 0"));
  }
  const EncodedTensor& parameters = join.parameters();
  const bool carries_parameters = parameters.count() > 0 || !parameters.data().empty();
  if (carries_parameters) {
    if (parameters.codec() != CompressionName(Compression::kNone)) {
      return absl::InvalidArgumentError(
          absl::StrCat("join of replica '", id, "': parameters.codec is '", parameters.codec(),
                       "'; seed parameters travel uncompressed ('none')"));
    }
    if (parameters.data().size() % sizeof(float) != 0 ||
        parameters.count() != parameters.data().size() / sizeof(float)) {
      return absl::InvalidArgumentError(
          absl::StrCat("join of replica '", id, "': parameters.data holds ",
                       parameters.data().size(), " bytes, not the ", sizeof(float),
                       " per value that parameters.count ", parameters.count(), " needs"));
    }
    if (seeded() && parameters.count() != global_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("join of replica '", id, "': parameters.count ", parameters.count(),
                       " is not the job's ", global_.size(), " parameters"));
    }
  }
  std::vector<float> seed;
  if (carries_parameters && !seeded()) {
    seed.resize(parameters.count());
    RETURN_IF_ERROR(
        worker::edge::Decompress(Compression::kNone, parameters.data(), absl::MakeSpan(seed),
                                 absl::StrCat("join of replica '", id, "': parameters")));
    for (size_t i = 0; i < seed.size(); ++i) {
      if (!std::isfinite(seed[i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            "join of replica '", id, "': parameters value ", i, " is not finite (", seed[i], ")"));
      }
    }
  }

  const bool known = replicas_.contains(id);
  Replica& replica = replicas_[id];
  const bool rejoin = replica.joined && (replica.invited || replica.holds_round >= 0);
  dealer_.Release(id);  // a replica that joins again lost its round
  replica.node = join.node_id();
  replica.vehicle = vehicle;
  replica.link_mbps = std::isfinite(join.link_mbps()) ? join.link_mbps() : 0;
  const Compression codec = fixed_codec_.value_or(CodecForLink(!vehicle, replica.link_mbps));
  if (!known || codec != replica.codec) {
    events_.push_back(absl::StrCat(id, "'s tensors travel in ", CompressionName(codec), " (link ",
                                   replica.link_mbps, " Mbit/s)"));
  }
  replica.codec = codec;
  replica.batch = join.batch();
  replica.departs_at = departs_at;
  if (join.seconds_per_sample() > 0) replica.seconds_per_sample = join.seconds_per_sample();
  replica.joined = true;
  ForgetRound(replica);
  if (rejoin) events_.push_back(absl::StrCat(id, " joined again in round ", round_));

  if (!seeded()) {
    if (!carries_parameters) {
      EdgeRound offer;
      offer.set_round(round_);
      offer.set_need_parameters(true);
      return offer;
    }
    RETURN_IF_ERROR(Seed(std::move(seed), now));  // opens round 0, which invites this replica
    events_.push_back(absl::StrCat(id, " seeded the job's ", global_.size(), " parameters"));
  } else if (!finished_) {
    if (InvitedCount() == 0) {
      // Nobody trains in the open round (its replicas left): close it if others wait for it,
      // else start it afresh; either way this replica is invited by the open.
      if (JoinedCount() > 1) {
        Close(now);
      } else {
        OpenRound(now);
      }
    } else {
      Invite(id, replica, now);
    }
  }
  return Offer(id, replica, /*delta=*/false, now);
}

absl::Status RoundAggregator::Seed(std::vector<float> values, absl::Time now) {
  ASSIGN_OR_RETURN(outer_, worker::edge::MakeOuterOptimizer(job_.edge, values.size()));
  global_ = std::move(values);
  downlinks_.clear();  // each codec's is created with its first offer
  round_ = 0;
  OpenRound(now);
  return absl::OkStatus();
}

double RoundAggregator::LinkSeconds(const Replica& replica, size_t values) const {
  if (!(replica.link_mbps > 0)) return 0;
  return static_cast<double>(worker::edge::CompressedBytes(replica.codec, values)) * 8 /
         (replica.link_mbps * 1e6);
}

void RoundAggregator::UpdateRate(Replica& replica, double train_seconds, uint64_t samples) {
  if (samples == 0 || !(train_seconds > 0) || !std::isfinite(train_seconds)) return;
  const double measured = train_seconds / static_cast<double>(samples);
  const double old = replica.seconds_per_sample;
  // Slower at once, faster halfway: a round sized too long makes the replica late and wastes
  // all of it, one sized too short idles it only for the rest of the round.
  replica.seconds_per_sample = old > 0 ? std::max(measured, 0.5 * old + 0.5 * measured) : measured;
}

int64_t RoundAggregator::NormalSteps(const Replica& replica) const {
  const int64_t h = job_.edge.local_steps;
  if (!reference_seconds_.has_value() || !(replica.seconds_per_sample > 0)) return h;
  const double per_step = static_cast<double>(replica.batch) * replica.seconds_per_sample;
  return std::clamp<int64_t>(FloorRatio(*reference_seconds_, per_step), 1, kMaxStepsFactor * h);
}

int64_t RoundAggregator::InvitedCount() const {
  int64_t n = 0;
  for (const auto& [id, r] : replicas_) n += r.invited ? 1 : 0;
  return n;
}

int64_t RoundAggregator::JoinedCount() const {
  int64_t n = 0;
  for (const auto& [id, r] : replicas_) n += r.joined ? 1 : 0;
  return n;
}

int64_t RoundAggregator::ContributedCount() const {
  int64_t n = 0;
  for (const auto& [id, r] : replicas_) {
    n += r.invited && (r.contribution.has_value() || !r.rejected_reason.empty()) ? 1 : 0;
  }
  return n;
}

double RoundAggregator::Progress() const {
  const double progress = job_.steps > 0
                              ? static_cast<double>(outer_steps_) / static_cast<double>(job_.steps)
                              : dealer_.epochs_done() / static_cast<double>(job_.epochs);
  return std::clamp(progress, 0.0, 1.0);
}

void RoundAggregator::OpenRound(absl::Time now) {
  opened_ = now;
  enough_since_.reset();
  evaluator_.clear();
  for (auto& [id, r] : replicas_) ForgetRound(r);
  // The reference time: H steps of the slowest vehicle whose rate is known, else of the
  // slowest replica whose rate is known.
  const double h = static_cast<double>(job_.edge.local_steps);
  std::optional<double> slowest_vehicle;
  std::optional<double> slowest_any;
  for (const auto& [id, r] : replicas_) {
    if (!r.joined || !(r.seconds_per_sample > 0)) continue;
    const double per_step = static_cast<double>(r.batch) * r.seconds_per_sample;
    slowest_any = std::max(slowest_any.value_or(0), per_step);
    if (r.vehicle) slowest_vehicle = std::max(slowest_vehicle.value_or(0), per_step);
  }
  reference_seconds_.reset();
  if (slowest_vehicle.has_value()) {
    reference_seconds_ = h * *slowest_vehicle;
  } else if (slowest_any.has_value()) {
    reference_seconds_ = h * *slowest_any;
  }

  const size_t num_params = global_.size();
  double longest_training = 0;
  double longest_transfer = 0;
  for (auto& [id, r] : replicas_) {
    if (!r.joined) continue;
    const int64_t steps = std::min(NormalSteps(r), StepsBeforeDeparture(r, now));
    if (steps < 1) {
      events_.push_back(absl::StrCat(id, " departs before it could finish a step of round ", round_,
                                     ": not invited"));
      continue;
    }
    absl::StatusOr<std::vector<uint32_t>> dealt =
        dealer_.Deal(id, static_cast<uint64_t>(steps * r.batch));
    if (!dealt.ok()) {
      // Cannot happen (everything was settled or released at the close); never lose samples.
      events_.push_back(
          absl::StrCat("round ", round_, ": ", id, " not invited: ", dealt.status().message()));
      continue;
    }
    if (dealt->empty()) continue;  // the last epoch's samples are all out: it waits
    r.invited = true;
    r.samples = *std::move(dealt);
    const int64_t n = static_cast<int64_t>(r.samples.size());
    r.inner_steps = (n + r.batch - 1) / r.batch;
    const double training = r.seconds_per_sample > 0
                                ? static_cast<double>(n) * r.seconds_per_sample
                                : static_cast<double>(r.inner_steps) * kUnknownSecondsPerStep;
    longest_training = std::max(longest_training, training);
    longest_transfer = std::max(longest_transfer, 2 * LinkSeconds(r, num_params));
  }
  if (job_.edge.round_deadline.has_value()) {
    deadline_ = opened_ + *job_.edge.round_deadline;
  } else {
    deadline_ =
        opened_ + absl::Seconds(1.5 * longest_training + longest_transfer + kDeadlineSlackSeconds);
  }

  // One replica evaluates after each completed epoch: the data-center group if it takes
  // part, else the first invited replica.
  const int64_t completed = dealer_.epochs_completed();
  if (evaluated_epoch_ < completed) {
    auto dc = replicas_.find(kDatacenterReplica);
    if (dc != replicas_.end() && dc->second.joined) {
      evaluator_ = kDatacenterReplica;
    } else {
      for (const auto& [id, r] : replicas_) {
        if (r.invited) {
          evaluator_ = id;
          break;
        }
      }
    }
    if (!evaluator_.empty()) evaluated_epoch_ = completed;
  }
}

int64_t RoundAggregator::StepsBeforeDeparture(const Replica& replica, absl::Time now) const {
  if (replica.departs_at == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  // It must train, upload its contribution and have taken the round's parameters before it
  // goes; what it would not finish is lost to the round.
  const double left =
      absl::ToDoubleSeconds(replica.departs_at - now) - 2 * LinkSeconds(replica, global_.size());
  if (left <= 0) return 0;
  if (!(replica.seconds_per_sample > 0)) return std::numeric_limits<int64_t>::max();  // unknown
  const double per_step =
      kMidRoundMargin * static_cast<double>(replica.batch) * replica.seconds_per_sample;
  return FloorRatio(left, per_step);
}

void RoundAggregator::ExpectDeparture(const std::string& replica, absl::Time at) {
  auto it = replicas_.find(replica);
  if (it != replicas_.end()) it->second.departs_at = at;
}

void RoundAggregator::Invite(const std::string& id, Replica& replica, absl::Time now) {
  const int64_t normal = NormalSteps(replica);
  int64_t steps = normal;
  if (replica.seconds_per_sample > 0) {
    const double left =
        absl::ToDoubleSeconds(deadline_ - now) - 2 * LinkSeconds(replica, global_.size());
    const double per_step =
        kMidRoundMargin * static_cast<double>(replica.batch) * replica.seconds_per_sample;
    steps = left > 0 ? std::min(normal, FloorRatio(left, per_step)) : 0;
  } else if (deadline_ - now < (deadline_ - opened_) / 2) {
    steps = 0;  // unknown rate and less than half the round left
  }
  steps = std::min(steps, StepsBeforeDeparture(replica, now));
  if (steps < 1) {
    events_.push_back(
        absl::StrCat(id, " joined too late for round ", round_, ": it waits for the next"));
    return;
  }
  absl::StatusOr<std::vector<uint32_t>> dealt =
      dealer_.Deal(id, static_cast<uint64_t>(steps * replica.batch));
  if (!dealt.ok() || dealt->empty()) return;
  replica.invited = true;
  replica.samples = *std::move(dealt);
  const int64_t n = static_cast<int64_t>(replica.samples.size());
  replica.inner_steps = (n + replica.batch - 1) / replica.batch;
}

EdgeRound RoundAggregator::Offer(const std::string& id, Replica& replica, bool delta,
                                 absl::Time now) {
  EdgeRound offer;
  offer.set_round(round_);
  EncodedTensor* parameters = offer.mutable_parameters();
  parameters->set_count(global_.size());
  if (finished_) {
    parameters->set_codec(CompressionName(Compression::kNone));
    parameters->set_data(worker::edge::Compress(Compression::kNone, global_));
    offer.set_delta(false);
    offer.set_finished(true);
  } else {
    auto [link, created] = downlinks_.try_emplace(replica.codec);
    if (created) link->second.held = global_;
    parameters->set_codec(CompressionName(replica.codec));
    parameters->set_data(delta ? link->second.last_change
                               : worker::edge::Compress(replica.codec, link->second.held));
    offer.set_delta(delta);
    if (replica.invited) {
      for (uint32_t sample : replica.samples) offer.add_samples(sample);
      offer.set_inner_steps(replica.inner_steps);
      const double upload = LinkSeconds(replica, global_.size());
      offer.set_send_within_seconds(
          std::max(0.0, absl::ToDoubleSeconds(deadline_ - now) - upload - kSendMarginSeconds));
    }
    offer.set_evaluate(!evaluator_.empty() && evaluator_ == id);
  }
  offer.set_codec(CompressionName(replica.codec));
  offer.set_progress(Progress());
  offer.set_epoch(dealer_.epochs_completed());
  offer.set_outer_step(outer_steps_);
  replica.holds_round = round_;
  counters_.bytes_sent[LinkClass(id)] +=
      static_cast<int64_t>(parameters->data().size() + sizeof(uint32_t) * offer.samples_size());
  return offer;
}

absl::Status RoundAggregator::Contribute(const EdgeContribution& contribution, absl::Time now) {
  const std::string& id = contribution.replica();
  counters_.bytes_received[LinkClass(id)] +=
      static_cast<int64_t>(contribution.pseudo_gradient().data().size() +
                           sizeof(uint32_t) * static_cast<size_t>(contribution.unfinished_size()));
  auto it = replicas_.find(id);
  if (it == replicas_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("contribution: unknown replica '", id, "' (it never joined)"));
  }
  Replica& replica = it->second;
  if (replica.vehicle && contribution.node_id() != id) {
    return absl::InvalidArgumentError(absl::StrCat("contribution: replica '", id,
                                                   "' is not node_id '", contribution.node_id(),
                                                   "': a vehicle speaks only for itself"));
  }
  const int64_t round = contribution.round();
  if (!seeded()) {
    return absl::InvalidArgumentError(absl::StrCat("contribution of '", id, "': round ", round,
                                                   " never was: the job has no parameters yet"));
  }
  if (round < 0 || round > round_) {
    return absl::InvalidArgumentError(absl::StrCat("contribution of '", id, "': round ", round,
                                                   " never was: the open round is ", round_));
  }
  const bool empty = contribution.pseudo_gradient().count() == 0 &&
                     contribution.pseudo_gradient().data().empty() &&
                     contribution.unfinished_size() == 0;
  if (round < round_) {
    if (empty) return absl::OkStatus();  // a replica that had nothing to train, waiting
    if (round > replica.late_round) {
      ++counters_.contributions["late"];
      replica.late_round = round;
      events_.push_back(absl::StrCat(id, " contributed to round ", round, " after it closed"));
    }
    // Its time still tells how fast it is: a replica sized on too fast a rate would be late
    // round after round.
    UpdateRate(replica, contribution.train_seconds(),
               static_cast<uint64_t>(std::max<int64_t>(contribution.inner_steps(), 0)) *
                   static_cast<uint64_t>(replica.batch));
    // What it held for that round went back at the close; what it holds now is this round's.
    if (!replica.invited) dealer_.Release(id);
    return absl::AbortedError(absl::StrCat("contribution of replica '", id, "' to round ", round,
                                           " is late: the round has closed (the open round is ",
                                           round_, "); it counts nothing"));
  }
  if (finished_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "contribution of replica '", id, "' to round ", round, ": the job has finished"));
  }
  if (!replica.joined) {
    return absl::FailedPreconditionError(absl::StrCat("contribution of replica '", id,
                                                      "' to round ", round,
                                                      ": it has left the job; join again"));
  }
  if (!replica.invited) {
    // Not a contribution: it trained nothing this round and waits for the next.
    if (contribution.test_accuracy() >= 0) last_test_accuracy_ = contribution.test_accuracy();
    return absl::OkStatus();
  }
  if (replica.contribution.has_value() || !replica.rejected_reason.empty()) {
    return absl::AlreadyExistsError(
        absl::StrCat("replica '", id, "' has already contributed to round ", round));
  }

  replica.train_seconds = contribution.train_seconds();
  replica.test_accuracy = contribution.test_accuracy();
  const size_t dealt = replica.samples.size();
  std::vector<bool> seen(dealt, false);
  for (uint32_t position : contribution.unfinished()) {
    if (position >= dealt || seen[position]) {
      replica.rejected_reason = "bad_request";
      replica.rejected_detail =
          position >= dealt ? absl::StrCat("unfinished position ", position,
                                           " is out of range: it was dealt ", dealt, " samples")
                            : absl::StrCat("unfinished position ", position, " is repeated");
      break;
    }
    seen[position] = true;
  }
  const EncodedTensor& gradient = contribution.pseudo_gradient();
  std::vector<float> values;
  if (replica.rejected_reason.empty()) {
    if (gradient.codec() != CompressionName(replica.codec)) {
      replica.rejected_detail =
          absl::StrCat("pseudo_gradient.codec is '", gradient.codec(), "'; the replica's is '",
                       CompressionName(replica.codec), "'");
    } else if (gradient.count() != global_.size()) {
      replica.rejected_detail = absl::StrCat("pseudo_gradient.count is ", gradient.count(),
                                             "; the model has ", global_.size(), " parameters");
    } else {
      values.resize(global_.size());
      absl::Status decoded =
          worker::edge::Decompress(replica.codec, gradient.data(), absl::MakeSpan(values),
                                   absl::StrCat("pseudo_gradient of replica '", id, "'"));
      if (!decoded.ok()) replica.rejected_detail = std::string(decoded.message());
    }
    if (!replica.rejected_detail.empty()) replica.rejected_reason = "undecodable";
  }
  if (replica.rejected_reason.empty()) {
    replica.unfinished.assign(contribution.unfinished().begin(), contribution.unfinished().end());
    worker::edge::Contribution c;
    c.replica = id;
    c.samples = static_cast<int64_t>(dealt - replica.unfinished.size());
    c.pseudo_gradient = std::move(values);
    replica.contribution = std::move(c);
  }

  if (!enough_since_.has_value() &&
      static_cast<double>(ContributedCount()) >= Quorum(InvitedCount(), job_.edge.over_select)) {
    enough_since_ = now;
  }
  return absl::OkStatus();
}

bool RoundAggregator::MaybeClose(absl::Time now) {
  if (!seeded() || finished_) return false;
  const int64_t invited = InvitedCount();
  if (invited == 0) {
    // Its replicas left. Replicas that joined too late for it wait for the next round; with
    // nobody at all, the next joiner starts it afresh.
    if (JoinedCount() == 0) return false;
    Close(now);
    return true;
  }
  const int64_t contributed = ContributedCount();
  bool due = contributed == invited || now >= deadline_;
  if (static_cast<double>(contributed) >= Quorum(invited, job_.edge.over_select)) {
    if (!enough_since_.has_value()) enough_since_ = now;
    if (now >= *enough_since_ + (deadline_ - opened_) * kGraceFraction) due = true;
  } else {
    enough_since_.reset();
  }
  if (!due) return false;
  Close(now);
  return true;
}

void RoundAggregator::Close(absl::Time now) {
  const int64_t closing = round_;
  std::vector<std::string> late;
  std::vector<worker::edge::Contribution> contributions;
  std::vector<worker::edge::Rejection> rejected;
  for (auto& [id, r] : replicas_) {
    if (!r.invited) continue;
    if (r.contribution.has_value()) {
      contributions.push_back(std::move(*r.contribution));
      r.contribution.reset();
    } else if (!r.rejected_reason.empty()) {
      rejected.push_back({id, r.rejected_reason, r.rejected_detail});
    } else {
      late.push_back(id);
      if (closing > r.late_round) {
        ++counters_.contributions["late"];
        r.late_round = closing;
      }
      events_.push_back(absl::StrCat(id, " late for round ", closing, ": its ", dealer_.held_by(id),
                                     " samples go back"));
      dealer_.Release(id);
    }
  }

  const worker::edge::RoundAverage average = worker::edge::CloseRound(
      contributions, job_.edge.max_norm_ratio, *outer_, absl::MakeSpan(global_));
  for (const std::string& id : average.accepted) {
    Replica& r = replicas_.at(id);
    absl::StatusOr<uint64_t> trained = dealer_.Settle(id, r.unfinished);
    if (!trained.ok()) {
      // Cannot happen (the positions were checked at Contribute); give the samples back.
      events_.push_back(absl::StrCat(id, " in round ", closing, ": ", trained.status().message()));
      dealer_.Release(id);
    } else {
      UpdateRate(r, r.train_seconds, *trained);
    }
    ++counters_.contributions["accepted"];
    r.contributed_round = closing;
  }
  rejected.insert(rejected.end(), average.rejected.begin(), average.rejected.end());
  std::vector<std::string> rejected_names;
  for (const worker::edge::Rejection& rejection : rejected) {
    Replica& r = replicas_.at(rejection.replica);
    dealer_.Release(rejection.replica);
    rejected_.push_back({r.node, absl::StrCat(rejection.reason, " (", rejection.detail, ")")});
    ++counters_.contributions[absl::StrCat("rejected:", rejection.reason)];
    r.contributed_round = closing;
    rejected_names.push_back(absl::StrCat(rejection.replica, " rejected"));
    events_.push_back(absl::StrCat(rejection.replica, " rejected in round ", closing, ": ",
                                   rejection.reason, " (", rejection.detail, ")"));
  }
  for (const auto& [id, r] : replicas_) {
    if (r.invited && r.contributed_round == closing && r.test_accuracy >= 0) {
      last_test_accuracy_ = r.test_accuracy;
    }
  }
  if (!average.accepted.empty()) ++outer_steps_;

  UpdateDownlinks();
  ++counters_.rounds;

  std::string line =
      absl::StrCat("round ", closing, " closed: ", average.accepted.size(), " accepted");
  if (!average.accepted.empty()) {
    absl::StrAppend(&line, " (", absl::StrJoin(average.accepted, ", "), ")");
  }
  for (const std::string& name : rejected_names) absl::StrAppend(&line, ", ", name);
  for (const std::string& name : late) absl::StrAppend(&line, ", ", name, " late");
  events_.push_back(std::move(line));

  finished_ =
      job_.steps > 0 ? outer_steps_ >= job_.steps : dealer_.epochs_completed() >= job_.epochs;
  ++round_;
  if (finished_) {
    events_.push_back(absl::StrCat("job finished after ", closing + 1, " rounds, ", outer_steps_,
                                   " outer steps"));
    for (auto& [id, r] : replicas_) {
      r.invited = false;
      r.samples.clear();
    }
    return;
  }
  OpenRound(now);
}

absl::StatusOr<EdgeRound> RoundAggregator::NextRound(const std::string& replica_id, int64_t after,
                                                     absl::Time now) {
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("next round: unknown replica '", replica_id, "' (it never joined)"));
  }
  Replica& replica = it->second;
  if (!replica.joined) {
    return absl::FailedPreconditionError(
        absl::StrCat("next round: replica '", replica_id, "' has left the job; join again"));
  }
  if (!finished_ && round_ <= after) {
    return absl::FailedPreconditionError(absl::StrCat("next round for replica '", replica_id,
                                                      "' after round ", after, ": round ", round_,
                                                      " still open"));
  }
  const bool delta = !finished_ && replica.contributed_round == after && after == round_ - 1 &&
                     replica.holds_round == after;
  return Offer(replica_id, replica, delta, now);
}

void RoundAggregator::UpdateDownlinks() {
  std::set<Compression> in_use;
  for (const auto& [id, r] : replicas_) {
    if (r.joined) in_use.insert(r.codec);
  }
  std::vector<float> change(global_.size());
  for (auto it = downlinks_.begin(); it != downlinks_.end();) {
    if (!in_use.contains(it->first)) {
      it = downlinks_.erase(it);  // a replica of it that joins again is sent everything
      continue;
    }
    const Compression codec = it->first;
    Downlink& link = it->second;
    // The change goes out compressed; what compression lost stays in global - held.
    for (size_t i = 0; i < change.size(); ++i) change[i] = global_[i] - link.held[i];
    link.last_change = worker::edge::Compress(codec, change);
    const absl::Status decoded = worker::edge::Decompress(
        codec, link.last_change, absl::MakeSpan(change), "the round's change");
    COSCHED_CHECK(decoded.ok(), "{}", decoded.ToString());
    for (size_t i = 0; i < change.size(); ++i) link.held[i] += change[i];
    ++it;
  }
}

std::map<std::string, Compression> RoundAggregator::Codecs() const {
  std::map<std::string, Compression> codecs;
  for (const auto& [id, r] : replicas_) {
    if (r.joined) codecs[id] = r.codec;
  }
  return codecs;
}

const std::vector<float>& RoundAggregator::held_parameters(Compression codec) const {
  static const std::vector<float> kEmpty;
  auto it = downlinks_.find(codec);
  return it == downlinks_.end() ? kEmpty : it->second.held;
}

void RoundAggregator::ForgetRound(Replica& replica) {
  replica.invited = false;
  replica.inner_steps = 0;
  replica.samples.clear();
  replica.contribution.reset();
  replica.unfinished.clear();
  replica.rejected_reason.clear();
  replica.rejected_detail.clear();
}

void RoundAggregator::ReplicaLeft(const std::string& replica_id) {
  auto it = replicas_.find(replica_id);
  if (it == replicas_.end()) return;
  Replica& replica = it->second;
  const uint64_t held = dealer_.held_by(replica_id);
  dealer_.Release(replica_id);
  replica.joined = false;
  ForgetRound(replica);
  events_.push_back(
      absl::StrCat(replica_id, " left in round ", round_,
                   held > 0 ? absl::StrCat(": its ", held, " samples go back") : std::string()));
}

std::vector<std::string> RoundAggregator::TakeEvents() {
  std::vector<std::string> events;
  events.swap(events_);
  return events;
}

std::vector<RoundAggregator::RejectedContribution> RoundAggregator::TakeRejected() {
  std::vector<RejectedContribution> rejected;
  rejected.swap(rejected_);
  return rejected;
}

}  // namespace cosched::scheduler::edge
