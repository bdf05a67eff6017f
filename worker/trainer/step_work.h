// File: worker/trainer/step_work.h
// StepWork: the ranks of a step claim their planned samples micro-batch by micro-batch from
// one counter per plan, so that a rank that finished its own plan can finish the plan of a
// rank that yielded to inference. In synchronous training the peers of a preempted rank
// would otherwise sit idle at the allreduce until it comes back; here they take over its
// remaining samples and nobody waits (work conserving).
//
// Who takes what is the trainer's choice: by default a rank that finished its plan takes what
// is left of any other (work stealing: it also covers a rank the OS descheduled); in a
// deterministic job only what is left of plans whose owners asked for help (they yielded to
// inference), so without inference every rank computes exactly its own plan and runs repeat
// bit for bit.
// Rules that keep the step exact and the leases right:
//  - Every claimed chunk is computed before its rank joins the step's allreduce, so the
//    samples done of each plan are always a prefix of it; the allreduce sums how many each
//    rank did of each plan, and the leases commit those prefixes.
// The counters live in the group's shared-memory segment (the ranks share a host); without
// one (ranks on several hosts) they are local and nobody helps: a preempted rank joins the
// allreduce with what it finished, as before. A rank takes from another's plan only when
// that plan's counter is shared (Shared): a local counter of a peer's plan says nothing about
// what the peer did, and claiming from it would compute the peer's samples a second time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace cosched::worker {

class StepWork {
 public:
  // `cells[q]`: plan q's counter, shared with the other ranks (null: a local one).
  // `plan_sizes[q]`: how many samples plan q holds this step.
  StepWork(const std::vector<std::atomic<uint64_t>*>& cells, int64_t step,
           std::vector<size_t> plan_sizes);

  // Claims up to `count` of plan `plan`'s next samples: [begin, end), empty when none remain.
  std::pair<size_t, size_t> Claim(int plan, size_t count);
  // Whether plan `plan`'s counter is shared with the other ranks (else it is this rank's own
  // and only the plan's owner may claim from it).
  bool Shared(int plan) const { return local_cell_[plan] == nullptr; }
  // The owner of `plan` yielded to inference: the others may take its remaining samples.
  void AskForHelp(int plan);
  bool WantsHelp(int plan) const;

 private:
  // A cell holds (step tag << 33) | (help << 32) | samples claimed; a cell written in another
  // step reads as nothing claimed and no help asked, so cells never need resetting.
  struct Cell {
    uint64_t claimed;
    bool help;
  };
  Cell Read(uint64_t raw) const;
  uint64_t Encode(uint64_t claimed, bool help) const;

  std::vector<std::atomic<uint64_t>*> cells_;
  // For plans without a shared cell, by plan (null where the cell is shared).
  std::vector<std::unique_ptr<std::atomic<uint64_t>>> local_cell_;
  const uint64_t tag_;
  const std::vector<size_t> plan_sizes_;
};

}  // namespace cosched::worker
