// File: collectives/shared_memory_reducer.h
// SharedMemoryReducer: allreduce through one shared-memory segment, for the ranks of a group
// that run on one host (all of them, or one host's share of a hierarchical group). Over loopback
// TCP every byte is copied through the kernel twice per hop; here each rank copies the others'
// shares of its data into the segment, sums its own share of every rank's data, and copies the
// others' sums out: no sockets, no system calls on the data path. Ranks meet at futex-backed
// barriers in the segment. Failure stays bounded: a barrier gives up at the timeout, notices a peer
// process that died (/proc/<pid>) within ~10 ms, and Abort() (any thread) or a failing peer
// "poisons" the segment so every rank stops now.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <memory>
#include <stop_token>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "collectives/key_value_store.h"

namespace cosched::collectives {

class SharedMemoryReducer {
 public:
  static constexpr int kMaxRanks = 256;  // per segment (its header has a cell per rank)

  // Collective over the `world_size` ranks of one host (host_layout.h says which): each
  // calls it with its index `rank` among them and the same `prefix`, a key prefix of that
  // host's own within the generation. Rank 0 creates the segment. CANCELLED when `stop` is
  // requested first.
  static absl::StatusOr<std::unique_ptr<SharedMemoryReducer>> Attach(
      KeyValueStore* store, const std::string& prefix, int rank, int world_size,
      size_t capacity_floats, absl::Duration timeout, std::stop_token stop = {});
  ~SharedMemoryReducer();
  SharedMemoryReducer(const SharedMemoryReducer&) = delete;
  SharedMemoryReducer& operator=(const SharedMemoryReducer&) = delete;

  // In-place sum over all ranks; messages larger than the capacity go through in pieces.
  absl::Status Allreduce(absl::Span<float> data, absl::Duration timeout);
  // The two halves of a hierarchical allreduce, with rank 0 as the host's leader:
  // ReduceToLeader leaves the sum in rank 0's `data` (the others' is unchanged), and
  // BroadcastFromLeader copies rank 0's `data` into every rank's. Same length everywhere.
  absl::Status ReduceToLeader(absl::Span<float> data, absl::Duration timeout);
  absl::Status BroadcastFromLeader(absl::Span<float> data, absl::Duration timeout);
  // Makes the operation in flight, and every later one, fail on every rank. Any thread.
  void Abort();

  // One 64-bit cell per rank in the segment, zero when the group forms, each on its own cache
  // line: every rank may read and write every cell (the trainer shares a step's work through
  // them: worker/trainer/step_work.h). Their meaning is the caller's.
  std::atomic<uint64_t>& WorkCell(int rank) const;

 private:
  struct Header;
  SharedMemoryReducer(void* mapping, size_t mapping_bytes, int rank, int world_size,
                      size_t capacity_floats);
  // `may_poll` false: sleep on the futex at once (for waits known to be long).
  absl::Status Barrier(absl::Time deadline, bool may_poll = true);
  float* Slot(int rank) const;
  // Elements [lo, hi) of a chunk of n: the share this rank sums.
  struct Share {
    size_t lo, hi;
  };
  Share OwnShare(size_t n) const;
  // Copies elements [0, n) of `from` to `to` except this rank's own share.
  void CopyOthersShares(const float* from, float* to, size_t n) const;
  // This rank's share of the sum of elements [0, n), its own data read from `own` (the
  // others' shares of `own` are in its slot), into slot 0, and into `own` if `keep_own_sum`.
  void SumOwnShare(float* own, size_t n, bool keep_own_sum) const;
  void Poison();

  void* const mapping_;
  const size_t mapping_bytes_;
  Header* const header_;
  const int rank_;
  const int world_size_;
  const size_t capacity_floats_;
  // How long a barrier polls before it sleeps on the futex: a futex wake-up costs tens of
  // microseconds, more than a whole 64 KiB phase. Zero when the host's ranks outnumber its
  // cores, where polling would take the core from the rank being waited for.
  const absl::Duration poll_before_sleep_;
  std::atomic<bool> aborted_{false};
};

}  // namespace cosched::collectives
