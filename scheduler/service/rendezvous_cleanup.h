// File: scheduler/service/rendezvous_cleanup.h
// RendezvousCleanup: the CoreOutbox the scheduler runs with. Worker messages go on to the
// sessions; when the core says a job's generations before g ended (a newer one was published)
// or the whole job ended, their rendezvous keys are deleted from the KvTable, so the table
// holds only generations that members may still form and a long elastic job does not grow it
// by a generation's keys at every membership change.
#pragma once

#include <map>

#include "scheduler/core/scheduler_core.h"
#include "scheduler/kv/kv_table.h"

namespace cosched::scheduler {

class RendezvousCleanup final : public CoreOutbox {
 public:
  // Neither is owned; both must outlive this object.
  RendezvousCleanup(CoreOutbox* sessions, KvTable* table) : sessions_(sessions), table_(table) {}

  void Assign(const NodeId& node, const Assignment& assignment) override {
    sessions_->Assign(node, assignment);
  }
  void Revoke(const NodeId& node, const Revocation& revocation) override {
    sessions_->Revoke(node, revocation);
  }
  // Called on the core's loop thread only.
  void GenerationsEnded(const JobId& job, int64_t generation) override;

 private:
  CoreOutbox* const sessions_;
  KvTable* const table_;
  // Per job, the oldest generation whose keys may still exist.
  std::map<JobId, int64_t> oldest_kept_;
};

}  // namespace cosched::scheduler
