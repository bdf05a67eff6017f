// File: worker/edge/edge_client.h
// EdgeClient: a replica's side of the edge tier's outer rounds (proto/edge.proto). The node
// that speaks for a replica (a vehicle, or the data-center group's rank 0) dials the
// scheduler; it never listens. The client turns the wire's rounds into parameters: a round's
// full parameters are decoded as they are, a change is added to the start of the round the
// replica contributed to, so every replica that took part starts the next round from the same
// bits. The pseudo-gradient goes out compressed, in the codec the aggregator names for this
// replica's link, with error feedback (what compression lost is added to the next round's).
//
// Calls that wait for a round to close wait at most `poll` each, so the data-center group's
// rank 0 can keep its peers in step (they wait in a broadcast bounded by their collective
// timeout). An aggregator that cannot be reached is retried for `retry_for`.
//
// Not thread-safe: used by one trainer thread.
#pragma once

#include <grpcpp/security/credentials.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "proto/edge.grpc.pb.h"
#include "worker/edge/compression.h"
#include "worker/edge/error_feedback.h"
#include "worker/worker_metrics.h"

namespace cosched::worker::edge {

struct EdgeClientOptions {
  std::string scheduler_address;
  // TLS (common/tls/credentials.h); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string job_id;
  std::string replica;  // "datacenter" or this vehicle's node id
  std::string node_id;
  double link_mbps = 0;
  int64_t batch = 1;             // samples per inner step of the replica
  uint64_t dataset_samples = 0;  // the training set's size
  absl::Duration poll = absl::Seconds(1);
  absl::Duration retry_for = absl::Seconds(60);
  WorkerMetrics* metrics = nullptr;  // optional
};

// A round as the replica trains it.
struct EdgeRoundPlan {
  cosched::v1::EdgeRound round;  // as received, without its parameters (decoded into `start`)
  std::vector<float> start;      // the parameters the round starts from
  absl::Time cut_at;             // stop training by then, to contribute in time
};

// What the replica did in a round.
struct RoundWork {
  int64_t inner_steps = 0;
  std::vector<uint32_t> unfinished;  // positions in the round's samples not trained
  double train_seconds = 0;
  double loss_sum = 0;
  double test_accuracy = -1;
};

class EdgeClient {
 public:
  static absl::StatusOr<std::unique_ptr<EdgeClient>> Create(EdgeClientOptions options);

  // Joins the job's rounds (again), seeding the global model with `params` when the
  // aggregator has none. `seconds_per_sample`: the replica's measured training time per
  // sample (0: unknown).
  absl::StatusOr<EdgeRoundPlan> Join(absl::Span<const float> params, double seconds_per_sample);
  // Contributes `params` (now) against `plan.start`. Returns the next round, or nullopt while
  // the round is still open (then Await). A contribution that came too late is dropped by the
  // aggregator; the client then joins again and returns that round.
  absl::StatusOr<std::optional<EdgeRoundPlan>> Contribute(const EdgeRoundPlan& plan,
                                                          absl::Span<const float> params,
                                                          const RoundWork& work);
  // Waits up to `poll` more for the round contributed to to close.
  absl::StatusOr<std::optional<EdgeRoundPlan>> Await();

  const EdgeClientOptions& options() const { return options_; }

 private:
  EdgeClient(EdgeClientOptions options, std::unique_ptr<cosched::v1::EdgeAggregator::Stub> stub);

  // Runs `call` (one RPC with a fresh context) until it is answered or `retry_for` passes;
  // only an unreachable or overloaded aggregator is retried.
  template <typename Call>
  absl::Status WithRetries(absl::string_view what, Call call);
  // The round `reply` describes, relative to `base_` for a change; nullopt while pending.
  absl::StatusOr<std::optional<EdgeRoundPlan>> Adopt(cosched::v1::EdgeRound reply,
                                                     absl::Time received);

  const EdgeClientOptions options_;
  std::unique_ptr<cosched::v1::EdgeAggregator::Stub> stub_;
  std::optional<ErrorFeedback> feedback_;  // sized at the first contribution
  std::vector<float> base_;                // the start of the round contributed to
  int64_t contributed_round_ = -1;         // the round Await waits on
  std::vector<float> last_params_;         // what a late contribution rejoins with
};

}  // namespace cosched::worker::edge
