// File: scheduler/edge/edge_service.h
// EdgeService: the scheduler's EdgeAggregator gRPC service (proto/edge.proto). It keeps one
// RoundAggregator per edge-tier job, created at the job's first Join from the job's YAML as
// the core holds it, and serves the replicas' calls under one lock. A call that waits for a
// round to close waits on a condition variable, at most the time it asked for (and at most
// kMaxWait), and closes the round itself when its deadline comes: no thread of its own.
//
// It also stands between the core and the worker sessions (a CoreOutbox): a member the core
// revokes is no longer waited for in its job's round, and a job that ended drops its
// aggregator. Rejected contributions go back to the core, which lowers the node's
// reliability.
//
// Only members of the job may take part: a Join or Contribute from a node the core does not
// list as the job's member (for "datacenter", a member of its synchronous group) is refused
// with PERMISSION_DENIED.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/metrics.h"
#include "common/mutex.h"
#include "common/tls/authorizer.h"
#include "proto/edge.grpc.pb.h"
#include "proto/scheduler.pb.h"
#include "scheduler/core/scheduler_core.h"
#include "scheduler/edge/round_aggregator.h"

namespace cosched::scheduler {
class CoreRunner;
}

namespace cosched::scheduler::edge {

class EdgeService final : public cosched::v1::EdgeAggregator::Service, public CoreOutbox {
 public:
  // The longest a call waits for a round to close, whatever it asked for.
  static constexpr absl::Duration kMaxWait = absl::Seconds(5);

  // `next` receives every core decision after this service has seen it. `runner` is set
  // later (set_runner): the runner needs its outbox first. `registry` may be null.
  EdgeService(CoreOutbox* next, MetricsRegistry* registry);
  void set_runner(CoreRunner* runner) { runner_ = runner; }
  // Checks that a vehicle acts only as itself (not owned; null: no checks).
  void set_authorizer(tls::Authorizer* authorizer) { authorizer_ = authorizer; }

  grpc::Status Join(grpc::ServerContext* context, const cosched::v1::EdgeJoin* request,
                    cosched::v1::EdgeRound* reply) override ABSL_LOCKS_EXCLUDED(mu_);
  grpc::Status Contribute(grpc::ServerContext* context,
                          const cosched::v1::EdgeContribution* request,
                          cosched::v1::EdgeRound* reply) override ABSL_LOCKS_EXCLUDED(mu_);
  grpc::Status Await(grpc::ServerContext* context, const cosched::v1::EdgeAwait* request,
                     cosched::v1::EdgeRound* reply) override ABSL_LOCKS_EXCLUDED(mu_);

  // The job's edge tier so far, into `status` (left alone for a job without rounds). An
  // ended job keeps its last figures.
  void FillStatus(const std::string& job, cosched::v1::EdgeTierStatus* status)
      ABSL_LOCKS_EXCLUDED(mu_);

  // CoreOutbox, on the core's loop thread.
  void Assign(const NodeId& node, const Assignment& assignment) override {
    next_->Assign(node, assignment);
  }
  void Revoke(const NodeId& node, const Revocation& revocation) override ABSL_LOCKS_EXCLUDED(mu_);
  void GenerationsEnded(const JobId& job, int64_t generation) override ABSL_LOCKS_EXCLUDED(mu_);
  void LoadModel(const NodeId& node, const ModelLoad& load) override {
    next_->LoadModel(node, load);
  }
  void RequestWeights(const NodeId& node, const WeightsRequest& request) override {
    next_->RequestWeights(node, request);
  }

 private:
  // The caller is node `node_id` (the request's sender).
  absl::Status CheckCaller(const grpc::ServerContextBase& context, absl::string_view node_id);
  // The job as the core has it: whether `node` may speak for `replica`; if so, the job's YAML
  // and the node's predicted departure (InfiniteFuture: none).
  struct Member {
    std::string yaml;
    absl::Time departs_at = absl::InfiniteFuture();
  };
  absl::StatusOr<Member> CheckMember(const std::string& job, const std::string& replica,
                                     const std::string& node);
  // The job's aggregator, or FAILED_PRECONDITION when it has none (nobody joined yet).
  absl::StatusOr<RoundAggregator*> Find(const std::string& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits until `job`'s round `after` has closed or `wait` passed, closing it at its deadline;
  // then the next round for `replica`, or `pending`.
  absl::StatusOr<cosched::v1::EdgeRound> NextRound(RoundAggregator& aggregator,
                                                   const std::string& job,
                                                   const std::string& replica, int64_t after,
                                                   double wait_seconds)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Closes `job`'s round if due; after a close, wakes the waiters, logs the events, reports
  // rejections to the core and exports the counters.
  void MaybeClose(const std::string& job, RoundAggregator& aggregator, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Export(const std::string& job, RoundAggregator& aggregator)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  CoreOutbox* const next_;
  MetricsRegistry* const registry_;
  CoreRunner* runner_ = nullptr;
  tls::Authorizer* authorizer_ = nullptr;
  Mutex mu_;
  CondVar round_closed_;
  std::map<std::string, std::unique_ptr<RoundAggregator>> aggregators_ ABSL_GUARDED_BY(mu_);
  // Counter series -> value already exported (the aggregators' counters only grow).
  std::map<std::string, int64_t> exported_ ABSL_GUARDED_BY(mu_);
  // The last figures of jobs whose aggregators are gone (the job ended).
  std::map<std::string, cosched::v1::EdgeTierStatus> ended_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::scheduler::edge
