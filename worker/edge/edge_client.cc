// File: worker/edge/edge_client.cc
#include "worker/edge/edge_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/grpc_limits.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace cosched::worker::edge {
namespace {

// Time kept back from a round's deadline beyond what the replica was told: the answer travels
// too, and a step started just before the cut still finishes.
constexpr absl::Duration kCutMargin = absl::Milliseconds(200);

cosched::v1::EncodedTensor Encode(Compression codec, absl::Span<const float> values) {
  cosched::v1::EncodedTensor tensor;
  tensor.set_codec(CompressionName(codec));
  tensor.set_count(values.size());
  tensor.set_data(Compress(codec, values));
  return tensor;
}

// Decodes `tensor` into `out` (already of the model's size).
absl::Status Decode(const cosched::v1::EncodedTensor& tensor, absl::Span<float> out,
                    absl::string_view what) {
  ASSIGN_OR_RETURN(const Compression codec, ParseCompression(tensor.codec()));
  if (tensor.count() != out.size()) {
    return absl::DataLossError(
        absl::StrCat(what, " holds ", tensor.count(), " values, the model has ", out.size()));
  }
  return Decompress(codec, tensor.data(), out, what);
}

bool Retryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status) ||
         absl::IsResourceExhausted(status);
}

}  // namespace

absl::StatusOr<std::unique_ptr<EdgeClient>> EdgeClient::Create(EdgeClientOptions options) {
  if (options.scheduler_address.empty() || options.job_id.empty() || options.replica.empty()) {
    return absl::InvalidArgumentError("an edge client needs the scheduler, job and replica");
  }
  if (options.batch < 1 || options.dataset_samples == 0) {
    return absl::InvalidArgumentError(absl::StrCat("edge client: batch ", options.batch,
                                                   " and data set size ", options.dataset_samples,
                                                   " must be >= 1"));
  }
  grpc::ChannelArguments args;
  // As the rendezvous client: a restarting scheduler is retried soon.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(kMaxGrpcMessageBytes);  // rounds carry the parameters
  auto channel = grpc::CreateCustomChannel(
      options.scheduler_address,
      options.credentials ? options.credentials : grpc::InsecureChannelCredentials(), args);
  return std::unique_ptr<EdgeClient>(
      new EdgeClient(std::move(options), cosched::v1::EdgeAggregator::NewStub(std::move(channel))));
}

EdgeClient::EdgeClient(EdgeClientOptions options,
                       std::unique_ptr<cosched::v1::EdgeAggregator::Stub> stub)
    : options_(std::move(options)), stub_(std::move(stub)) {}

template <typename Call>
absl::Status EdgeClient::WithRetries(absl::string_view what, Call call) {
  const absl::Time give_up = absl::Now() + options_.retry_for;
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    grpc::ClientContext context;
    // The longest the aggregator waits for a round to close, plus the bytes' travel.
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.poll + absl::Seconds(30)));
    const absl::Status status = FromGrpcStatus(call(&context));
    if (status.ok() || !Retryable(status) || absl::Now() + backoff > give_up) {
      if (!status.ok()) {
        return absl::Status(status.code(),
                            absl::StrCat("edge aggregator at ", options_.scheduler_address, ", ",
                                         what, ": ", status.message()));
      }
      return status;
    }
    spdlog::warn("edge aggregator at {}: {} failed, retrying: {}", options_.scheduler_address,
                 std::string(what), status.ToString());
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(2));
  }
}

absl::StatusOr<EdgeRoundPlan> EdgeClient::Join(absl::Span<const float> params,
                                               double seconds_per_sample) {
  last_params_.assign(params.begin(), params.end());
  cosched::v1::EdgeJoin join;
  join.set_job_id(options_.job_id);
  join.set_replica(options_.replica);
  join.set_node_id(options_.node_id);
  join.set_link_mbps(options_.link_mbps);
  join.set_batch(options_.batch);
  join.set_seconds_per_sample(seconds_per_sample);
  join.set_dataset_samples(options_.dataset_samples);
  for (int attempt = 0; attempt < 2; ++attempt) {
    cosched::v1::EdgeRound reply;
    RETURN_IF_ERROR(WithRetries(
        "join", [&](grpc::ClientContext* context) { return stub_->Join(context, join, &reply); }));
    const absl::Time received = absl::Now();
    if (options_.metrics != nullptr) {
      options_.metrics->edge_bytes_sent.Increment(
          static_cast<double>(join.parameters().data().size()));
    }
    if (reply.need_parameters()) {  // the first replica seeds the global model
      *join.mutable_parameters() = Encode(Compression::kNone, params);
      continue;
    }
    contributed_round_ = -1;
    ASSIGN_OR_RETURN(std::optional<EdgeRoundPlan> plan, Adopt(std::move(reply), received));
    if (!plan.has_value()) return absl::InternalError("the aggregator answered a join 'pending'");
    return *std::move(plan);
  }
  return absl::InternalError("the aggregator asked for parameters twice");
}

absl::StatusOr<std::optional<EdgeRoundPlan>> EdgeClient::Contribute(const EdgeRoundPlan& plan,
                                                                    absl::Span<const float> params,
                                                                    const RoundWork& work) {
  if (params.size() != plan.start.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "contribution of ", params.size(), " parameters to a round of ", plan.start.size()));
  }
  // The aggregator names the codec for this replica's link; a new one starts a fresh carry.
  absl::StatusOr<Compression> codec = ParseCompression(plan.round.codec());
  if (!codec.ok()) {
    return absl::DataLossError(
        absl::StrCat("round ", plan.round.round(), ": codec: ", codec.status().message()));
  }
  if (!feedback_.has_value() || feedback_->size() != params.size() ||
      feedback_->compression() != *codec) {
    feedback_.emplace(*codec, params.size());
  }
  std::vector<float> pseudo_gradient(params.size());
  for (size_t i = 0; i < params.size(); ++i) pseudo_gradient[i] = plan.start[i] - params[i];
  last_params_.assign(params.begin(), params.end());

  cosched::v1::EdgeContribution contribution;
  contribution.set_job_id(options_.job_id);
  contribution.set_replica(options_.replica);
  contribution.set_node_id(options_.node_id);
  contribution.set_round(plan.round.round());
  contribution.set_inner_steps(work.inner_steps);
  for (uint32_t position : work.unfinished) contribution.add_unfinished(position);
  contribution.set_train_seconds(work.train_seconds);
  contribution.set_loss_sum(work.loss_sum);
  contribution.set_test_accuracy(work.test_accuracy);
  contribution.set_wait_seconds(absl::ToDoubleSeconds(options_.poll));
  cosched::v1::EncodedTensor& encoded = *contribution.mutable_pseudo_gradient();
  encoded.set_codec(CompressionName(*codec));
  encoded.set_count(params.size());
  encoded.set_data(feedback_->Encode(pseudo_gradient));

  cosched::v1::EdgeRound reply;
  const absl::Status sent = WithRetries("contribute", [&](grpc::ClientContext* context) {
    return stub_->Contribute(context, contribution, &reply);
  });
  const absl::Time received = absl::Now();
  if (options_.metrics != nullptr) {
    options_.metrics->edge_bytes_sent.Increment(
        static_cast<double>(encoded.data().size() + 4 * work.unfinished.size()));
    options_.metrics->outer_rounds.Increment();
  }
  if (absl::IsAborted(sent)) {  // late: the round closed without it; start over
    spdlog::warn("{}", std::string(sent.message()));
    ASSIGN_OR_RETURN(EdgeRoundPlan rejoined, Join(last_params_, 0));
    return std::optional<EdgeRoundPlan>(std::move(rejoined));
  }
  base_ = plan.start;
  contributed_round_ = plan.round.round();
  // The replica's rank 0 changed while it waited for the close: the old one had sent the
  // same contribution already. Wait for the close like it.
  if (absl::IsAlreadyExists(sent)) return std::optional<EdgeRoundPlan>();
  RETURN_IF_ERROR(sent);
  return Adopt(std::move(reply), received);
}

absl::StatusOr<std::optional<EdgeRoundPlan>> EdgeClient::Await() {
  if (contributed_round_ < 0) return absl::FailedPreconditionError("nothing contributed to await");
  cosched::v1::EdgeAwait await;
  await.set_job_id(options_.job_id);
  await.set_replica(options_.replica);
  await.set_node_id(options_.node_id);
  await.set_after_round(contributed_round_);
  await.set_wait_seconds(absl::ToDoubleSeconds(options_.poll));
  cosched::v1::EdgeRound reply;
  RETURN_IF_ERROR(WithRetries("await the round's close", [&](grpc::ClientContext* context) {
    return stub_->Await(context, await, &reply);
  }));
  return Adopt(std::move(reply), absl::Now());
}

absl::StatusOr<std::optional<EdgeRoundPlan>> EdgeClient::Adopt(cosched::v1::EdgeRound reply,
                                                               absl::Time received) {
  if (reply.pending()) return std::optional<EdgeRoundPlan>();
  if (options_.metrics != nullptr) {
    options_.metrics->edge_bytes_received.Increment(
        static_cast<double>(reply.parameters().data().size() + 4 * reply.samples_size()));
  }
  EdgeRoundPlan plan;
  const std::string what = absl::StrCat("round ", reply.round(), "'s parameters");
  if (reply.delta()) {
    if (base_.size() != reply.parameters().count()) {
      return absl::DataLossError(absl::StrCat(what, ": a change of ", reply.parameters().count(),
                                              " values to ", base_.size(), " parameters"));
    }
    std::vector<float> change(base_.size());
    RETURN_IF_ERROR(Decode(reply.parameters(), absl::MakeSpan(change), what));
    plan.start = base_;
    for (size_t i = 0; i < change.size(); ++i) plan.start[i] += change[i];
  } else {
    plan.start.resize(reply.parameters().count());
    RETURN_IF_ERROR(Decode(reply.parameters(), absl::MakeSpan(plan.start), what));
  }
  if (!last_params_.empty() && plan.start.size() != last_params_.size()) {
    return absl::DataLossError(absl::StrCat(what, " has ", plan.start.size(),
                                            " values, the model has ", last_params_.size()));
  }
  plan.cut_at = received + absl::Seconds(std::max(0.0, reply.send_within_seconds())) - kCutMargin;
  reply.clear_parameters();
  plan.round = std::move(reply);
  return std::optional<EdgeRoundPlan>(std::move(plan));
}

}  // namespace cosched::worker::edge
