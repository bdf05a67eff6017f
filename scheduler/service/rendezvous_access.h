// File: scheduler/service/rendezvous_access.h
// RendezvousAccess: which nodes may use which rendezvous keys. A job's keys
// ("job/<id>/...") point its members' gloo traffic at addresses, so only the job's current
// members may read or write them: a node becomes one when the core assigns it to the job and
// stops being one when the core revokes it (or the job ends). It learns this as a CoreOutbox
// in the chain the core's decisions pass through, before any worker hears of them, so a
// member never publishes ahead of its permission.
#pragma once

#include <cstdint>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/mutex.h"
#include "scheduler/core/scheduler_core.h"

namespace cosched::scheduler {

class RendezvousAccess final : public CoreOutbox {
 public:
  // `next` (not owned) receives every decision after this has noted it.
  explicit RendezvousAccess(CoreOutbox* next) : next_(next) {}

  void Assign(const NodeId& node, const Assignment& assignment) override ABSL_LOCKS_EXCLUDED(mu_);
  void Revoke(const NodeId& node, const Revocation& revocation) override ABSL_LOCKS_EXCLUDED(mu_);
  void GenerationsEnded(const JobId& job, int64_t generation) override ABSL_LOCKS_EXCLUDED(mu_);
  void LoadModel(const NodeId& node, const ModelLoad& load) override {
    next_->LoadModel(node, load);
  }
  void RequestWeights(const NodeId& node, const WeightsRequest& request) override {
    next_->RequestWeights(node, request);
  }

  // OK when `node` may use `key` (a key or a prefix): it lies under "job/<id>/" of a job the
  // node is a current member of. PERMISSION_DENIED names the node and the job otherwise.
  absl::Status Check(absl::string_view node, absl::string_view key) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  CoreOutbox* const next_;
  mutable Mutex mu_;
  // Per job, its members and the generation each was last assigned to.
  std::map<JobId, std::map<NodeId, int64_t, std::less<>>, std::less<>> members_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::scheduler
