// File: scheduler/edge/round_aggregator.h
// RoundAggregator: the outer rounds of one edge-tier job (proto/edge.proto), held by the
// scheduler, which every replica can reach. It owns the global parameters, the outer optimizer
// (worker/edge/outer_round.h), the samples (SampleDealer) and each replica's record.
//
// Codecs. Each replica's tensors travel in one codec, fixed at its join: the job's
// edge.compression, or with `auto` the one its link calls for (link_codec.h: none for the
// data-center replica, fp16 or int8 for vehicles). Offers name it; a contribution in another
// is rejected as undecodable.
//
// Parameters on the wire. The aggregator keeps `global`, what the outer optimizer steps, and
// per codec in use a downlink with `held`, what that codec's replicas that took part in the
// last round now hold. After a round it sends the change global - held compressed with the
// codec, and adds the decoded change to `held`: what compression lost is still in
// global - held and goes out with the next round's change (error feedback on the way down, as
// on the way up). A replica that joins, or missed a round, gets all of its codec's `held`,
// compressed; the final parameters go out uncompressed.
//
// Rounds. Round r opens with the parameters and invites every joined replica: each is dealt
// inner_steps * batch samples. The slowest invited vehicle (by its measured time per sample)
// gets local_steps (H) inner steps and every faster replica as many as fit in the same time
// (at most 16 H), so they finish together and nobody idles. A replica that joins mid-round is
// invited with the steps that fit before the deadline (none: it waits for the next round).
// The round closes (MaybeClose) when every invited replica has contributed, or at its deadline,
// or once ceil(invited / (1 + over_select)) have contributed and a grace period (a tenth of
// the round) has passed; a round whose invited replicas all left closes at once when others
// wait for the next (with nobody joined, the next joiner opens it afresh). A replica that has not
// contributed by then is late: its samples go back and it counts nothing. At the close,
// contributions are checked and averaged (CloseRound); accepted ones settle their samples, rejected
// ones give them back.
//
// A vehicle whose departure is predicted (ExpectDeparture) gets only the steps it can train
// and upload before it, or none.
//
// Deadline: edge.round_deadline after the open, or (auto) 1.5 times the longest expected
// training time of an invited replica, plus the longest time its link needs to move one
// contribution and one parameter change, plus 2 s.
//
// The job ends after `steps` rounds that updated the parameters (steps > 0) or `epochs`
// epochs; then every offer says finished and carries the final parameters.
//
// Not thread-safe: the service (edge_service.h) holds a lock around every call. Time comes in
// as arguments, so tests run without sleeping.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/job_config.h"
#include "proto/edge.pb.h"
#include "scheduler/edge/sample_dealer.h"
#include "worker/edge/compression.h"
#include "worker/edge/outer_round.h"
#include "worker/models/optimizer.h"

namespace cosched::scheduler::edge {

// The replica id of a job's data-center members (their synchronous group).
inline constexpr char kDatacenterReplica[] = "datacenter";

// What happened, for metrics and `coschedctl describe`.
struct AggregatorCounters {
  int64_t rounds = 0;  // closed
  // Contributions by outcome: "accepted", "late", or "rejected:<reason>" (outer_round.h's
  // reasons, plus "undecodable" and "bad_request").
  std::map<std::string, int64_t> contributions;
  // Payload bytes (parameters, pseudo-gradients, sample lists) by link class: "datacenter"
  // for the data-center replica, "vehicle" for the others.
  std::map<std::string, int64_t> bytes_sent;
  std::map<std::string, int64_t> bytes_received;
};

class RoundAggregator {
 public:
  // INVALID_ARGUMENT when `job` has no edge section or an unknown compression.
  static absl::StatusOr<std::unique_ptr<RoundAggregator>> Create(const JobConfig& job,
                                                                 uint64_t dataset_samples);

  // A replica joins (or rejoins: what it held goes back). Without parameters yet, the answer
  // says need_parameters unless `join` carries them (codec none, the job's first seed).
  // INVALID_ARGUMENT naming the field: another data set size than the job's, a vehicle whose
  // replica id is not its node id, batch < 1, seed parameters of another size.
  // `departs_at`: when it is predicted to leave (see ExpectDeparture).
  absl::StatusOr<cosched::v1::EdgeRound> Join(const cosched::v1::EdgeJoin& join, absl::Time now,
                                              absl::Time departs_at = absl::InfiniteFuture());

  // Records `contribution` for the current round. ABORTED (and counted late) when its round
  // has closed (the replica joins again); INVALID_ARGUMENT for an unknown replica or a round that
  // never was; ALREADY_EXISTS for a second one in the same round. A contribution that cannot be
  // decoded is recorded as rejected (it is checked at the close with the others).
  absl::Status Contribute(const cosched::v1::EdgeContribution& contribution, absl::Time now);

  // Closes the current round if it is due at `now`, and opens the next. Returns whether it
  // closed one.
  bool MaybeClose(absl::Time now);

  // What `replica` trains next after contributing to (or being late for) round `after`: call
  // once round() > after, or when finished(). The change since `after` when the replica took
  // part in it and it was the last round, else all the parameters.
  absl::StatusOr<cosched::v1::EdgeRound> NextRound(const std::string& replica, int64_t after,
                                                   absl::Time now);

  // The replica is no longer in the job (its node left): what it holds goes back, and it is
  // no longer waited for.
  void ReplicaLeft(const std::string& replica);

  // When a joined replica is expected to leave (a vehicle's predicted departure; the
  // scheduler has it from the vehicle's signals), InfiniteFuture for unknown. A round gives
  // it only the steps it can train and upload before then, and none when not even one step
  // fits: its samples stay with replicas that will finish them. Unknown replicas are ignored.
  void ExpectDeparture(const std::string& replica, absl::Time at);

  int64_t round() const { return round_; }           // the open round
  absl::Time deadline() const { return deadline_; }  // of the open round
  bool finished() const { return finished_; }
  int64_t outer_steps() const { return outer_steps_; }
  double last_test_accuracy() const { return last_test_accuracy_; }  // -1: none reported
  const AggregatorCounters& counters() const { return counters_; }
  // Samples the replicas trained in contributions that were accepted, over all epochs.
  uint64_t samples_trained() const { return dealer_.consumed(); }
  // The parameters the outer optimizer steps, and those the last round's replicas of `codec`
  // hold (empty until seeded, or while no replica uses that codec); for tests and checkpoints.
  const std::vector<float>& global_parameters() const { return global_; }
  const std::vector<float>& held_parameters(worker::edge::Compression codec) const;
  // The codec of each joined replica.
  std::map<std::string, worker::edge::Compression> Codecs() const;
  // Lines for people ("round 4 closed: 3 accepted, car-2 late"), oldest first; taken once.
  std::vector<std::string> TakeEvents();
  // The contributions rejected since the last call: the node that sent each (its reliability
  // drops) and why, for the node's event.
  struct RejectedContribution {
    std::string node;
    std::string why;  // "norm_outlier (norm per root sample 3e+06 is more than ...)"
  };
  std::vector<RejectedContribution> TakeRejected();

 private:
  struct Replica {
    std::string node;  // the node that last spoke for it
    bool vehicle = true;
    double link_mbps = 0;
    worker::edge::Compression codec = worker::edge::Compression::kNone;  // set at its join
    int64_t batch = 1;
    double seconds_per_sample = 0;  // measured; 0 unknown
    bool joined = true;
    // The current round: invited (dealt samples), and the contribution if it came.
    bool invited = false;
    int64_t inner_steps = 0;
    std::vector<uint32_t> samples;  // dealt for the current round
    std::optional<worker::edge::Contribution> contribution;
    std::vector<uint32_t> unfinished;
    double train_seconds = 0;
    double test_accuracy = -1;
    // Set when its contribution to the current round was refused before the close
    // ("undecodable", "bad_request"): it counts as contributed, and is rejected at the close.
    std::string rejected_reason;
    std::string rejected_detail;
    // The last round whose parameters it was sent in full or by change (-1: none).
    int64_t holds_round = -1;
    int64_t contributed_round = -1;  // the last round it contributed to (accepted or not)
    int64_t late_round = -1;         // the last round it was counted late for
    absl::Time departs_at = absl::InfiniteFuture();  // predicted; InfiniteFuture unknown
  };

  // The parameters as one codec's replicas hold them (see the file comment).
  struct Downlink {
    std::vector<float> held;
    std::string last_change;  // the encoded change of the last close (for NextRound)
  };

  // `codec`: the job's fixed codec, nullopt for auto.
  RoundAggregator(JobConfig job, uint64_t dataset_samples,
                  std::optional<worker::edge::Compression> codec,
                  std::unique_ptr<worker::Optimizer> outer);

  void OpenRound(absl::Time now);
  // Drops what `replica` had of the open round (its invitation, samples and contribution);
  // the caller gives its samples back to the dealer.
  static void ForgetRound(Replica& replica);
  // Deals `replica` its samples for the open round and sets its inner steps.
  void Invite(const std::string& id, Replica& replica, absl::Time now);
  cosched::v1::EdgeRound Offer(const std::string& id, Replica& replica, bool delta, absl::Time now);
  // Closes the open round (MaybeClose decided it is due) and opens the next unless finished.
  void Close(absl::Time now);
  // After the outer step: each codec's change since its `held`, for the replicas that took
  // part; drops the downlinks no joined replica uses.
  void UpdateDownlinks();
  // Seeds the global parameters (a Join's, checked) and opens round 0.
  absl::Status Seed(std::vector<float> values, absl::Time now);
  // Folds a measured training time into `replica`'s rate (nothing when either is zero).
  static void UpdateRate(Replica& replica, double train_seconds, uint64_t samples);
  // The inner steps `replica` takes in a whole round (by the open round's reference time).
  int64_t NormalSteps(const Replica& replica) const;
  // The inner steps `replica` can train and upload before its predicted departure (no limit
  // when none is known, or its rate is not).
  int64_t StepsBeforeDeparture(const Replica& replica, absl::Time now) const;
  // Seconds `replica`'s link needs for `values` values in its codec (0: link unknown).
  double LinkSeconds(const Replica& replica, size_t values) const;
  int64_t InvitedCount() const;
  int64_t JoinedCount() const;
  int64_t ContributedCount() const;
  double Progress() const;
  bool seeded() const { return !global_.empty(); }

  const JobConfig job_;
  const std::optional<worker::edge::Compression> fixed_codec_;  // nullopt: auto
  SampleDealer dealer_;
  std::unique_ptr<worker::Optimizer> outer_;
  std::vector<float> global_;
  // Created when a replica of the codec joins; dropped at a close when none is left.
  std::map<worker::edge::Compression, Downlink> downlinks_;
  std::map<std::string, Replica> replicas_;
  int64_t round_ = 0;
  absl::Time opened_;
  absl::Time deadline_;
  std::optional<absl::Time> enough_since_;  // when over-selection's quorum was reached
  // The open round's reference time: what the slowest invited vehicle needs for H steps
  // (nullopt: no replica's rate is known, everybody takes H steps).
  std::optional<double> reference_seconds_;
  std::string evaluator_;  // the replica asked to evaluate in the open round ("" none)
  bool finished_ = false;
  int64_t outer_steps_ = 0;
  int64_t evaluated_epoch_ = 0;  // the last epoch an evaluation was asked for
  double last_test_accuracy_ = -1;
  AggregatorCounters counters_;
  std::vector<std::string> events_;
  std::vector<RejectedContribution> rejected_;
};

}  // namespace cosched::scheduler::edge
