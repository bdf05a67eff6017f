// File: scheduler/edge/edge_service.cc
#include "scheduler/edge/edge_service.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/job_config.h"
#include "common/logging.h"
#include "scheduler/service/core_runner.h"

namespace cosched::scheduler::edge {
namespace {

// Series created at 0 by the constructor and advanced by Export: one name and help each.
constexpr char kRounds[] = "cosched_edge_outer_rounds_total";
constexpr char kRoundsHelp[] = "Edge tier: outer rounds closed.";
constexpr char kBytes[] = "cosched_edge_bytes_total";
constexpr char kBytesHelp[] = "Edge tier: payload bytes between the aggregator and the replicas.";

// What the core says about a job, for a caller that wants to take part in its rounds.
struct JobView {
  bool found = false;
  bool ended = false;
  bool edge = false;
  std::string yaml;
  bool group_member = false;                       // the node is in the job's synchronous group
  bool edge_member = false;                        // the node trains in the job's edge tier
  absl::Time departs_at = absl::InfiniteFuture();  // the node's, as its signals predict
};

}  // namespace

EdgeService::EdgeService(CoreOutbox* next, MetricsRegistry* registry)
    : next_(next), registry_(registry) {
  if (registry_ == nullptr) return;
  // The series exist at 0 before the first edge job, so rules and increase() see its start.
  registry_->Counter(kRounds, kRoundsHelp);
  for (const char* link : {"datacenter", "vehicle"}) {
    for (const char* direction : {"sent", "received"}) {
      registry_->Counter(kBytes, kBytesHelp, {{"link_class", link}, {"direction", direction}});
    }
  }
}

absl::StatusOr<EdgeService::Member> EdgeService::CheckMember(const std::string& job,
                                                             const std::string& replica,
                                                             const std::string& node) {
  if (job.empty() || replica.empty() || node.empty()) {
    return absl::InvalidArgumentError("job_id, replica and node_id must all be set");
  }
  if (runner_ == nullptr) return absl::UnavailableError("the scheduler is starting");
  const JobView view = runner_->Call("edge_member", [&](SchedulerCore& core) {
    JobView v;
    const Job* found = core.FindJob(job);
    if (found == nullptr) return v;
    v.found = true;
    v.ended = IsTerminal(found->state);
    v.edge = found->spec.edge.enabled;
    v.yaml = found->spec.job_yaml;
    const auto it = std::find(found->members.begin(), found->members.end(), node);
    if (it != found->members.end()) {
      const bool in_group = it - found->members.begin() < found->assignment.world;
      v.group_member = in_group;
      v.edge_member = !in_group;
    }
    if (const Node* found_node = core.FindNode(node); found_node != nullptr) {
      v.departs_at = found_node->signals.departs_at;
    }
    return v;
  });
  if (!view.found) return absl::NotFoundError(absl::StrCat("no job '", job, "'"));
  if (view.ended) return absl::FailedPreconditionError(absl::StrCat("job ", job, " has ended"));
  if (!view.edge) {
    return absl::FailedPreconditionError(absl::StrCat("job ", job, " has no edge tier"));
  }
  const bool datacenter = replica == kDatacenterReplica;
  if (datacenter ? !view.group_member : (!view.edge_member || replica != node)) {
    return absl::PermissionDeniedError(
        absl::StrCat("node ", node, " may not speak for replica '", replica, "' of job ", job,
                     datacenter ? ": it is not in the job's synchronous group"
                                : ": a vehicle speaks only for itself, as the job's edge member"));
  }
  return Member{view.yaml, view.departs_at};
}

absl::StatusOr<RoundAggregator*> EdgeService::Find(const std::string& job) {
  const auto it = aggregators_.find(job);
  if (it == aggregators_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job, " has no edge rounds: join them first"));
  }
  return it->second.get();
}

absl::Status EdgeService::CheckCaller(const grpc::ServerContextBase& context,
                                      absl::string_view node_id) {
  if (authorizer_ == nullptr) return absl::OkStatus();
  return authorizer_->RequireNodeNamed(context, node_id, "take part in edge rounds");
}

grpc::Status EdgeService::Join(grpc::ServerContext* context, const cosched::v1::EdgeJoin* request,
                               cosched::v1::EdgeRound* reply) {
  if (absl::Status allowed = CheckCaller(*context, request->node_id()); !allowed.ok()) {
    return ToGrpcStatus(allowed);
  }
  absl::StatusOr<Member> member =
      CheckMember(request->job_id(), request->replica(), request->node_id());
  if (!member.ok()) return ToGrpcStatus(member.status());
  MutexLock lock(&mu_);
  auto it = aggregators_.find(request->job_id());
  if (it == aggregators_.end()) {
    absl::StatusOr<JobConfig> config =
        ParseJobConfigText(member->yaml, absl::StrCat("job ", request->job_id()));
    if (!config.ok()) return ToGrpcStatus(config.status());
    if (request->dataset_samples() == 0) {
      return ToGrpcStatus(absl::InvalidArgumentError("dataset_samples must be >= 1"));
    }
    absl::StatusOr<std::unique_ptr<RoundAggregator>> created =
        RoundAggregator::Create(*config, request->dataset_samples());
    if (!created.ok()) return ToGrpcStatus(created.status());
    it = aggregators_.emplace(request->job_id(), *std::move(created)).first;
    spdlog::info("job {}: edge rounds start", request->job_id());
  }
  const absl::Time now = absl::Now();
  MaybeClose(request->job_id(), *it->second, now);
  absl::StatusOr<cosched::v1::EdgeRound> round =
      it->second->Join(*request, now, member->departs_at);
  Export(request->job_id(), *it->second);
  if (!round.ok()) return ToGrpcStatus(round.status());
  *reply = *std::move(round);
  return grpc::Status::OK;
}

grpc::Status EdgeService::Contribute(grpc::ServerContext* context,
                                     const cosched::v1::EdgeContribution* request,
                                     cosched::v1::EdgeRound* reply) {
  if (absl::Status allowed = CheckCaller(*context, request->node_id()); !allowed.ok()) {
    return ToGrpcStatus(allowed);
  }
  absl::StatusOr<Member> member =
      CheckMember(request->job_id(), request->replica(), request->node_id());
  if (!member.ok()) return ToGrpcStatus(member.status());
  MutexLock lock(&mu_);
  absl::StatusOr<RoundAggregator*> aggregator = Find(request->job_id());
  if (!aggregator.ok()) return ToGrpcStatus(aggregator.status());
  const absl::Time now = absl::Now();
  (*aggregator)->ExpectDeparture(request->replica(), member->departs_at);
  MaybeClose(request->job_id(), **aggregator, now);
  const absl::Status recorded = (*aggregator)->Contribute(*request, now);
  Export(request->job_id(), **aggregator);
  if (!recorded.ok()) return ToGrpcStatus(recorded);
  round_closed_.SignalAll();  // the round may be complete now: a waiter closes it
  absl::StatusOr<cosched::v1::EdgeRound> next =
      NextRound(**aggregator, request->job_id(), request->replica(), request->round(),
                request->wait_seconds());
  if (!next.ok()) return ToGrpcStatus(next.status());
  *reply = *std::move(next);
  return grpc::Status::OK;
}

grpc::Status EdgeService::Await(grpc::ServerContext* context, const cosched::v1::EdgeAwait* request,
                                cosched::v1::EdgeRound* reply) {
  if (absl::Status allowed = CheckCaller(*context, request->node_id()); !allowed.ok()) {
    return ToGrpcStatus(allowed);
  }
  if (request->job_id().empty() || request->replica().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("job_id and replica must be set"));
  }
  MutexLock lock(&mu_);
  absl::StatusOr<RoundAggregator*> aggregator = Find(request->job_id());
  if (!aggregator.ok()) return ToGrpcStatus(aggregator.status());
  absl::StatusOr<cosched::v1::EdgeRound> next =
      NextRound(**aggregator, request->job_id(), request->replica(), request->after_round(),
                request->wait_seconds());
  if (!next.ok()) return ToGrpcStatus(next.status());
  *reply = *std::move(next);
  return grpc::Status::OK;
}

absl::StatusOr<cosched::v1::EdgeRound> EdgeService::NextRound(RoundAggregator& aggregator,
                                                              const std::string& job,
                                                              const std::string& replica,
                                                              int64_t after, double wait_seconds) {
  const absl::Duration wait =
      std::clamp(absl::Seconds(std::max(0.0, wait_seconds)), absl::ZeroDuration(), kMaxWait);
  const absl::Time give_up = absl::Now() + wait;
  while (true) {
    const absl::Time now = absl::Now();
    MaybeClose(job, aggregator, now);
    if (aggregator.round() > after || aggregator.finished()) {
      absl::StatusOr<cosched::v1::EdgeRound> next = aggregator.NextRound(replica, after, now);
      Export(job, aggregator);
      return next;
    }
    if (now >= give_up) break;
    round_closed_.WaitWithDeadline(&mu_, std::min(give_up, aggregator.deadline()));
    // The job may have ended (and its aggregator gone) while this call waited.
    if (!aggregators_.contains(job)) {
      return absl::FailedPreconditionError(absl::StrCat("job ", job, " has ended"));
    }
  }
  cosched::v1::EdgeRound pending;
  pending.set_round(aggregator.round());
  pending.set_pending(true);
  return pending;
}

void EdgeService::MaybeClose(const std::string& job, RoundAggregator& aggregator, absl::Time now) {
  if (!aggregator.MaybeClose(now)) return;
  round_closed_.SignalAll();
  for (const std::string& event : aggregator.TakeEvents()) {
    spdlog::info("job {}: edge {}", job, event);
  }
  for (RoundAggregator::RejectedContribution& rejected : aggregator.TakeRejected()) {
    if (runner_ == nullptr) break;
    runner_->Post("contribution_rejected",
                  [node = std::move(rejected.node), why = std::move(rejected.why),
                   job](SchedulerCore& core) { core.ContributionRejected(node, job, why); });
  }
  Export(job, aggregator);
}

void EdgeService::Export(const std::string& job, RoundAggregator& aggregator) {
  if (registry_ == nullptr) return;
  const AggregatorCounters& counters = aggregator.counters();
  // Per job the counters only grow; the series sum over jobs, so add each job's growth.
  auto advance = [this](const std::string& key, absl::string_view name, absl::string_view help,
                        const MetricLabels& labels,
                        int64_t total) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int64_t& done = exported_[key];
    if (total > done) {
      registry_->Counter(name, help, labels).Increment(static_cast<double>(total - done));
      done = total;
    }
  };
  const std::string job_key = absl::StrCat(job, "/");  // job ids are never reused
  advance(job_key + "rounds", kRounds, kRoundsHelp, {}, counters.rounds);
  for (const auto& [outcome, count] : counters.contributions) {
    const size_t colon = outcome.find(':');
    const std::string result = outcome.substr(0, colon);
    const std::string reason = colon == std::string::npos ? "" : outcome.substr(colon + 1);
    advance(job_key + "c/" + outcome, "cosched_edge_contributions_total",
            "Edge tier: contributions by outcome (accepted, late, rejected) and reason.",
            {{"outcome", result}, {"reason", reason}}, count);
  }
  for (const auto& [link, bytes] : counters.bytes_sent) {
    advance(job_key + "s/" + link, kBytes, kBytesHelp,
            {{"link_class", link}, {"direction", "sent"}}, bytes);
  }
  for (const auto& [link, bytes] : counters.bytes_received) {
    advance(job_key + "r/" + link, kBytes, kBytesHelp,
            {{"link_class", link}, {"direction", "received"}}, bytes);
  }
}

namespace {

cosched::v1::EdgeTierStatus Summarize(const RoundAggregator& aggregator) {
  cosched::v1::EdgeTierStatus status;
  const AggregatorCounters& counters = aggregator.counters();
  status.set_outer_rounds(counters.rounds);
  status.set_outer_steps(aggregator.outer_steps());
  for (const auto& [outcome, count] : counters.contributions) {
    if (outcome == "accepted") {
      status.set_contributions_accepted(status.contributions_accepted() + count);
    } else if (outcome == "late") {
      status.set_contributions_late(status.contributions_late() + count);
    } else {
      status.set_contributions_rejected(status.contributions_rejected() + count);
    }
  }
  auto both_ways = [&](const std::string& link) {
    const auto sent = counters.bytes_sent.find(link);
    const auto received = counters.bytes_received.find(link);
    return (sent == counters.bytes_sent.end() ? 0 : sent->second) +
           (received == counters.bytes_received.end() ? 0 : received->second);
  };
  status.set_vehicle_bytes(both_ways("vehicle"));
  status.set_datacenter_bytes(both_ways("datacenter"));
  status.set_samples_trained(static_cast<int64_t>(aggregator.samples_trained()));
  for (const auto& [replica, codec] : aggregator.Codecs()) {
    (*status.mutable_codecs())[replica] = worker::edge::CompressionName(codec);
  }
  return status;
}

}  // namespace

void EdgeService::FillStatus(const std::string& job, cosched::v1::EdgeTierStatus* status) {
  MutexLock lock(&mu_);
  const auto it = aggregators_.find(job);
  if (it != aggregators_.end()) {
    *status = Summarize(*it->second);
    return;
  }
  const auto ended = ended_.find(job);
  if (ended != ended_.end()) *status = ended->second;
}

void EdgeService::Revoke(const NodeId& node, const Revocation& revocation) {
  {
    MutexLock lock(&mu_);
    const auto it = aggregators_.find(revocation.job);
    if (it != aggregators_.end()) {
      it->second->ReplicaLeft(node);  // a vehicle's replica is its node; others are no-ops
      MaybeClose(revocation.job, *it->second, absl::Now());
      round_closed_.SignalAll();
    }
  }
  next_->Revoke(node, revocation);
}

void EdgeService::GenerationsEnded(const JobId& job, int64_t generation) {
  if (generation == std::numeric_limits<int64_t>::max()) {  // the job ended
    MutexLock lock(&mu_);
    const auto it = aggregators_.find(job);
    if (it != aggregators_.end()) {
      // Its exported series keep their values; their keys go with the aggregator.
      const std::string job_key = absl::StrCat(job, "/");
      for (auto e = exported_.lower_bound(job_key);
           e != exported_.end() && e->first.starts_with(job_key);) {
        e = exported_.erase(e);
      }
      ended_[job] = Summarize(*it->second);
      aggregators_.erase(it);
      round_closed_.SignalAll();
    }
  }
  next_->GenerationsEnded(job, generation);
}

}  // namespace cosched::scheduler::edge
