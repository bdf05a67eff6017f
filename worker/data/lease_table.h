// File: worker/data/lease_table.h
// LeaseTable: the data-shard leases of one data-parallel job, replicated on every rank.
//
// The N training samples are cut into shards of `shard_size` consecutive indices (the last
// shard may be smaller). Each epoch deals the shards from a queue in an order shuffled from
// (seed, epoch), and the samples inside each shard are shuffled from (seed, epoch, shard);
// both shuffles are our own Fisher-Yates over std::mt19937_64, so they are the same on every
// machine and standard library. A rank holds leases on shards; a lease remembers how many of
// the shard's (shuffled) samples have been consumed.
//
// There is no lease server: every rank keeps its own replica and applies the same sequence of
// calls with the same arguments (derived from collective results), so all replicas stay
// byte-identical. A new member, or the survivors after a generation change, adopt the state
// of one rank through Serialize()/Deserialize().
//
// One training step, on every rank, for every rank r = 0..W-1 of the current generation:
//   plans = table.PlanStep(counts);   // counts[r]: samples rank r asks for (same everywhere)
//   ... rank `me` trains on plans[me], maybe stopping early when preempted ...
//   done = allgather(number of samples of plans[me] actually finished, in plan order)
//   RETURN_IF_ERROR(table.CommitStep(done));
// If the step fails (a peer died), nobody commits: the plans stay leased, and after
//   RETURN_IF_ERROR(table.Remap(new_rank_of_old));   // leavers' leases go back to the queue
// the survivors' next plans start with the same samples again.
//
// Guarantees: each sample is consumed exactly once per epoch whatever the churn (ranks leaving,
// joining, preempted). A rank that finishes fewer samples than planned (done < planned) gives
// all its leases back to the queue, so other ranks pick its leftovers up in the next step
// instead of waiting for it.
//
// Epoch rule: a plan never mixes epochs. When the epoch's queue is exhausted, ranks get fewer
// samples, or none (they still join the step's collectives with a count of 0; nobody waits on
// anybody). Once every sample of the epoch has been committed, epoch_done() is true; the next
// Plan()/PlanStep() call starts epoch + 1 with a freshly shuffled queue.
//
// Not thread-safe: a LeaseTable is a value owned by one trainer thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cosched::worker {

class LeaseTable {
 public:
  // At most this many shards (so the per-epoch shard order stays <= 64 MiB).
  static constexpr uint64_t kMaxShards = uint64_t{1} << 24;

  // num_samples in [1, 2^32 - 1], shard_size >= 1, ceil(num_samples / shard_size) <= kMaxShards.
  // Starts in epoch 0 with nothing consumed.
  static absl::StatusOr<LeaseTable> Create(uint64_t num_samples, uint32_t shard_size,
                                           uint64_t seed);

  // The next up to `count` sample indices for `rank` (>= 0): the unconsumed samples of the
  // leases it holds first, then new shards taken from the front of the epoch's queue. Fewer
  // than `count` only when the epoch's queue is exhausted. Consumes nothing: calling Plan again
  // before Commit returns the same prefix (possibly extended). Acquisition changes the state,
  // so every replica must make the same Plan calls in the same order (PlanStep does).
  std::vector<uint32_t> Plan(int rank, uint32_t count);
  // Marks the first `done` samples of `rank`'s last plan consumed. done == planned keeps the
  // rank's remaining (unplanned) leases; done < planned returns all the rank's remaining leases
  // to the queue. Error (state unchanged) if done exceeds the last plan's size.
  absl::Status Commit(int rank, uint32_t done);

  // Plan(r, counts[r]) for r = 0, 1, ..., counts.size() - 1; result[r] is rank r's plan.
  std::vector<std::vector<uint32_t>> PlanStep(const std::vector<uint32_t>& counts);
  // Commit(r, done[r]) for every r in increasing order, after validating all of them: on error
  // nothing is applied. A rank >= done.size() counts as done = 0 and must have an empty plan.
  absl::Status CommitStep(const std::vector<uint32_t>& done);

  // Returns every lease held by `rank` (with its unconsumed samples) to the queue, ahead of the
  // epoch's not yet dealt shards (behind leases returned earlier), and forgets its plan.
  void ReleaseRank(int rank);
  // ReleaseRank for every rank, in increasing order: for a state whose rank numbering means
  // nothing to the group that adopts it (a checkpoint written by another generation).
  void ReleaseAll();
  // Renumbers ranks after a membership change: new_rank_of_old[old] is the new rank of `old`,
  // or -1 if it left (its leases are released, in increasing old-rank order). Every rank with
  // state must be covered; new ranks must be distinct. On error nothing changes.
  absl::Status Remap(const std::vector<int>& new_rank_of_old);

  uint64_t num_samples() const { return num_samples_; }
  uint32_t shard_size() const { return shard_size_; }
  uint64_t seed() const { return seed_; }
  uint64_t num_shards() const { return num_shards_; }
  int64_t epoch() const { return epoch_; }
  uint64_t consumed_in_epoch() const { return consumed_; }
  // Every sample of the current epoch has been committed; the next Plan starts a new epoch.
  bool epoch_done() const { return consumed_ == num_samples_; }
  // Unconsumed samples in the leases `rank` holds.
  uint64_t leased_to(int rank) const;
  // Every sample of the current epoch not committed yet (held, returned or not dealt), in
  // increasing order: what an edge-tier replica that ends its round early gives back.
  std::vector<uint32_t> Unconsumed() const;

  // The whole state as a compact little-endian byte string with a CRC-32 trailer (for
  // checkpoints and for handing the state to new members). Deserialize validates everything
  // (format, CRC, ranges, consistency of the counters with the leases) and returns an error
  // on corrupt input; a deserialized table continues exactly like the original.
  std::string Serialize() const;
  static absl::StatusOr<LeaseTable> Deserialize(absl::string_view bytes);

 private:
  struct Lease {
    uint32_t shard = 0;
    uint32_t offset = 0;  // samples of the shard's shuffled order already consumed
  };
  struct RankState {
    std::deque<Lease> leases;  // in acquisition order
    uint32_t planned = 0;      // size of the last uncommitted plan
  };

  LeaseTable(uint64_t num_samples, uint32_t shard_size, uint64_t seed);

  static absl::Status Validate(uint64_t num_samples, uint32_t shard_size);
  void StartEpoch(int64_t epoch);
  uint32_t ShardLength(uint32_t shard) const;
  // The shard's global sample indices in this epoch's shuffled order.
  std::vector<uint32_t> ShardSamples(uint32_t shard) const;
  bool TakeFromQueue(Lease* lease);
  void ApplyCommit(std::map<int, RankState>::iterator it, uint32_t done);

  uint64_t num_samples_;
  uint32_t shard_size_;
  uint64_t seed_;
  uint64_t num_shards_;
  int64_t epoch_ = 0;
  uint64_t consumed_ = 0;           // samples committed in this epoch
  std::vector<uint32_t> order_;     // this epoch's shard order (derived from seed and epoch)
  uint64_t next_shard_ = 0;         // order_[next_shard_..] are not dealt yet
  std::deque<Lease> returned_;      // released leases, dealt before order_[next_shard_..]
  std::map<int, RankState> ranks_;  // only ranks with leases or a non-empty plan
};

}  // namespace cosched::worker
