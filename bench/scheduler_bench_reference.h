// File: bench/scheduler_bench_reference.h
// The reference of `cosched-bench scheduler`'s decision part: a plain full-scan placer with
// the core's placement rules and none of its machinery. Every decision makes one pass over
// all nodes for one job: keep the nodes that are connected, eligible, free and fit the job
// (kind, CPUs, memory, link), take the best by a simple score (data-center nodes first, then
// the faster link, then the lower index), and publish the job's new generation.
//
// Which job a decision is for: a submission places the new job (admitted if at least
// workers.min fit, up to workers.max); a departure re-places the job that lost the node (it
// regrows, or falls back to pending below workers.min); a node that arrives (registers
// again or turns eligible) goes to the first waiting job in queue order (priority, then
// submission) that it fits, which is then placed. A tick scans every node for expired
// heartbeats, as the core's does.
#pragma once

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "scheduler/core/types.h"

namespace cosched::bench {

class ReferenceScheduler {
 public:
  struct RefNode {
    scheduler::NodeKind kind = scheduler::NodeKind::kDatacenter;
    int cpus = 1;
    int64_t memory_bytes = 0;
    double link_mbps = 0;
    bool connected = true;  // false once lost, until it registers again
    bool eligible = true;   // vehicles: the last signals passed the eligibility policy
    int job = -1;
    absl::Time last_heartbeat;
    bool available() const { return connected && eligible && job < 0; }
  };
  struct RefJob {
    scheduler::JobSpec spec;
    bool running = false;
    int64_t generation = -1;
    std::vector<int> members;  // node indices, in rank order
  };
  struct Counters {
    int64_t scans = 0;        // full passes over the nodes for a placement
    int64_t generations = 0;  // member-set changes published
    int64_t assignments = 0;  // one per member per published generation
    int64_t revocations = 0;
  };

  explicit ReferenceScheduler(absl::Duration heartbeat_ttl) : ttl_(heartbeat_ttl) {}

  // Setup, not a decision: nodes are numbered in the order they are added.
  int AddNode(const scheduler::NodeInfo& info, bool eligible, absl::Time now);

  // Decisions.
  int SubmitJob(const scheduler::JobSpec& spec);  // the job's index
  void Tick(absl::Time now);
  // A heartbeat that carries a vehicle's eligibility.
  void Heartbeat(int node, bool eligible, absl::Time now);
  // A lost node registers again (a vehicle keeps the eligibility it last reported).
  void Register(int node, absl::Time now);

  // The best `count` available nodes for `job` (one full pass); how many fit in `*feasible`.
  std::vector<int> Place(const RefJob& job, int count, int* feasible);

  const RefNode& node(int i) const { return nodes_[i]; }
  const RefJob& job(int i) const { return jobs_[i]; }
  int node_count() const { return static_cast<int>(nodes_.size()); }
  int job_count() const { return static_cast<int>(jobs_.size()); }
  const Counters& counters() const { return counters_; }
  // Jobs that are pending or below workers.max.
  int waiting_jobs() const { return static_cast<int>(waiting_.size()); }

 private:
  using QueueKey = std::pair<int, int>;  // (-priority, job index): queue order
  static QueueKey KeyOf(const RefJob& job, int index) { return {-job.spec.priority, index}; }
  bool Fits(const RefJob& job, const RefNode& node) const;
  // Places `job` (pending: admission, running: growth) and publishes it if its members change.
  void PlaceJob(int index, bool changed);
  void Depart(int node);
  void Arrive(int node);
  void Publish(RefJob& job);
  void UpdateWaiting(int index);

  const absl::Duration ttl_;
  std::vector<RefNode> nodes_;
  std::vector<RefJob> jobs_;
  std::set<QueueKey> waiting_;
  Counters counters_;
};

}  // namespace cosched::bench
