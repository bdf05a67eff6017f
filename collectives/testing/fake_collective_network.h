// File: collectives/testing/fake_collective_network.h
// FakeCollectiveNetwork: CollectiveGroups that live in one process, for tests and for the
// deterministic simulation of the control plane (tests/simulation/).
//
// The ranks of one (job, generation) meet in the network object: a group forms when every
// rank has called CreateGroup, and an operation completes when every rank has entered it
// (then, with Options::latency, that much later). Results are exact and identical on every
// rank (sums in rank order). Failure behaves as gloo's does, without sockets:
//   - a rank that times out, aborts or is killed fails the group for every rank: peers
//     blocked on it fail at once (UNAVAILABLE "peer rank r ..."), the way a closed connection
//     ends their gloo operations; later operations fail at once too;
//   - a rank that never arrives at an operation (stalled) surfaces at the timeout;
//   - ranks that call different operations (kind or size) fail with INTERNAL;
//   - a rendezvous stops with CANCELLED when GroupOptions::stop is requested.
// Every wait goes through the injected Clock's Await, so ranks may be threads on a RealClock
// or simulated processes on the deterministic runtime, in virtual time.
//
// Thread-safe: ranks may call from any threads. The store in GroupOptions is not used (the
// network is its own rendezvous).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "collectives/collective_group.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace cosched::collectives {

class FakeCollectiveNetwork {
 public:
  struct Options {
    // How long an operation of `bytes` per rank takes once every rank has entered it.
    std::function<absl::Duration(size_t bytes)> latency;
  };

  explicit FakeCollectiveNetwork(const Clock* clock, Options options = {});
  ~FakeCollectiveNetwork();
  FakeCollectiveNetwork(const FakeCollectiveNetwork&) = delete;
  FakeCollectiveNetwork& operator=(const FakeCollectiveNetwork&) = delete;

  // Joins rank options.rank of (job_id, generation) and waits, up to options.timeout, for
  // every rank. Options are checked as CreateGroup checks them (ValidateGroupOptions), except
  // that no store is needed. A rank already present in that group is refused.
  absl::StatusOr<std::unique_ptr<CollectiveGroup>> CreateGroup(const GroupOptions& options)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Groups of (job_id, generation) the network still tracks (for leak checks in tests).
  int live_groups() const ABSL_LOCKS_EXCLUDED(mu_);

  struct GroupState;
  struct Operation;

 private:
  class Group;
  friend class Group;

  // Waits, under mu_, until every rank of `state` arrived, the group failed, options.stop was
  // requested or the timeout passed; on failure the group fails for every rank.
  absl::Status AwaitFormation(GroupState& state, const GroupOptions& options)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A Group or a failed rendezvous lets go of `state`; the last one forgets it.
  void Release(const GroupIdentity& identity, const std::shared_ptr<GroupState>& state)
      ABSL_LOCKS_EXCLUDED(mu_);

  const Clock* const clock_;
  const Options options_;
  mutable Mutex mu_;
  CondVar changed_;
  // Keyed by (job id, generation); a state lives while any of its ranks' groups does, or
  // while a rendezvous for it is waiting.
  std::map<std::pair<std::string, int64_t>, std::shared_ptr<GroupState>> groups_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::collectives
