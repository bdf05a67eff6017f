// File: worker/trainer/membership.h
// MembershipSource: who trains in the next generation after the group failed. Standalone
// jobs decide among themselves (FileStoreMembership); under the scheduler, the scheduler's
// assignment decides (next issue); under mpirun a lost rank ends the job (NoRecovery).
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/key_value_store.h"

namespace cosched::worker {

struct Membership {
  int64_t generation = 0;
  int rank = 0;
  int world_size = 1;
  // new_rank_of_old[r]: the new rank of the previous generation's rank r, or -1 if it left.
  std::vector<int> new_rank_of_old;
};

class MembershipSource {
 public:
  virtual ~MembershipSource() = default;
  // The next generation's membership, the same on every member. `numbered` is the generation
  // whose rank numbering this rank's training state (its lease table) uses: the returned
  // new_rank_of_old maps from it. Only generations newer than `newer_than` are returned
  // (>= numbered.generation; larger after a generation this rank could not join).
  // A CancelledError means this rank is no longer a member (it was revoked): it stops
  // training without error.
  virtual absl::StatusOr<Membership> Next(const Membership& numbered, int64_t newer_than) = 0;
  // The newest generation this rank has been assigned, or -1. Sources that announce changes
  // ahead of a failure (the scheduler) return it; the trainer shares it in every step's
  // allreduce so that all members switch together at the same step boundary.
  virtual int64_t PendingGeneration() const { return -1; }

  // Requested the moment `generation` is superseded (a newer one assigned, or this rank
  // revoked), so a rank still forming it gives up at once and joins the newest. The default,
  // an empty token, is never requested.
  virtual std::stop_token SupersededToken(int64_t /*generation*/) { return {}; }
  // Whether a generation that failed for a reason not this rank's own (superseded, a peer
  // that died or never came) is followed by a newer one that this rank can join: true under
  // the scheduler, which re-forms the job. Otherwise such a failure ends this rank's part.
  virtual bool ReplacesFailedGenerations() const { return false; }
  // This rank's view of why `generation` failed, for whoever decides the next one.
  virtual void GenerationFailed(int64_t /*generation*/, const absl::Status& /*why*/) {}
};

// The job cannot continue without a lost rank (e.g. under mpirun, which ends the job anyway).
class NoRecovery final : public MembershipSource {
 public:
  absl::StatusOr<Membership> Next(const Membership& numbered, int64_t newer_than) override;
};

// Survivors agree through the rendezvous store. Each survivor publishes
// job/<id>/gen/<g+1>/alive/<old rank> and waits until it knows about every old rank: its key
// is there, or `ended` says its process is gone. A dead process never publishes, so every
// survivor then reads the same set, and the survivors, in old-rank order, become ranks
// 0..n-1. This takes as long as the slowest survivor takes to notice the failure, not a
// timeout. Only a rank whose process is alive but silent (stopped, hung) makes survivors wait
// the whole `settle` window; all survivors notice a failure within the collective timeout of
// each other, so a window of that timeout plus a margin sees every survivor.
class FileStoreMembership final : public MembershipSource {
 public:
  // Whether the process that was rank r of generation 0 (its "process number", which it
  // keeps across generations) has ended. Without one, every missing key waits out `settle`.
  using ProcessEnded = std::function<bool(int process)>;
  FileStoreMembership(collectives::KeyValueStore* store, std::string job_id, absl::Duration settle,
                      ProcessEnded ended = nullptr)
      : store_(store), job_id_(std::move(job_id)), settle_(settle), ended_(std::move(ended)) {}
  absl::StatusOr<Membership> Next(const Membership& numbered, int64_t newer_than) override;

 private:
  // Waits until every old rank's key is present or its process ended, or `settle` passes.
  void AwaitEveryOldRank(const std::vector<std::string>& alive_keys);

  collectives::KeyValueStore* const store_;
  const std::string job_id_;
  const absl::Duration settle_;
  const ProcessEnded ended_;
  // process_of_rank_[r]: the process number of the current generation's rank r (empty until
  // the first change: generation 0 numbers processes by rank).
  std::vector<int> process_of_rank_;
};

}  // namespace cosched::worker
