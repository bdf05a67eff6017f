// File: scheduler/service/rendezvous_cleanup.h
// RendezvousCleanup: the CoreOutbox the scheduler runs with. Worker messages go on to the
// sessions; when the core says a job's generations before g ended (a newer one was published)
// or the whole job ended, their rendezvous keys are deleted from the KvTable, so the table
// holds only generations that members may still form and a long elastic job does not grow it
// by a generation's keys at every membership change.
#pragma once

#include <map>
#include <set>

#include "absl/strings/string_view.h"
#include "common/mutex.h"
#include "scheduler/core/scheduler_core.h"
#include "scheduler/kv/kv_table.h"

namespace cosched::scheduler {

class RendezvousCleanup final : public CoreOutbox {
 public:
  // Neither is owned; both must outlive this object. Installs the table's gate (KvTable::Gate)
  // until destroyed: a key of a generation that has ended, or of a job that has, is refused
  // with CANCELLED (its publisher was superseded: the trainer joins the newer generation and
  // reports nothing), so a late publisher cannot leave keys behind that nothing deletes.
  RendezvousCleanup(CoreOutbox* sessions, KvTable* table);
  ~RendezvousCleanup() override;
  RendezvousCleanup(const RendezvousCleanup&) = delete;
  RendezvousCleanup& operator=(const RendezvousCleanup&) = delete;

  void Assign(const NodeId& node, const Assignment& assignment) override {
    sessions_->Assign(node, assignment);
  }
  void Revoke(const NodeId& node, const Revocation& revocation) override {
    sessions_->Revoke(node, revocation);
  }
  void LoadModel(const NodeId& node, const ModelLoad& load) override {
    sessions_->LoadModel(node, load);
  }
  void RequestWeights(const NodeId& node, const WeightsRequest& request) override {
    sessions_->RequestWeights(node, request);
  }
  // Called on the core's loop thread only.
  void GenerationsEnded(const JobId& job, int64_t generation) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // The table's gate: runs on the threads that publish keys.
  absl::Status Admit(absl::string_view key) const ABSL_LOCKS_EXCLUDED(mu_);

  CoreOutbox* const sessions_;
  KvTable* const table_;
  mutable Mutex mu_;
  // Per job, the oldest generation whose keys may still exist.
  std::map<JobId, int64_t, std::less<>> oldest_kept_ ABSL_GUARDED_BY(mu_);
  std::set<JobId, std::less<>> ended_jobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::scheduler
