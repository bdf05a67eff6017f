// File: collectives/shared_memory_reducer.h
// SharedMemoryReducer: allreduce through one shared-memory segment, for a group whose ranks
// all run on one host. Over loopback TCP every byte is copied through the kernel twice per
// hop; here each rank copies its data into the segment once, sums its share of every rank's
// data, and copies the result out: no sockets, no system calls on the data path.
// Ranks meet at futex-backed barriers in the segment. Failure stays bounded: a barrier
// gives up at the timeout, notices a peer process that died (/proc/<pid>) within ~10 ms,
// and Abort() (any thread) or a failing peer "poisons" the segment so every rank stops now.
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

// This machine's identity: the kernel's boot id plus the host name. Processes that share it
// share /dev/shm; a network namespace with a host name of its own counts as another host.
std::string ThisHostId();

class SharedMemoryReducer {
 public:
  // Collective: every rank calls it with the same `prefix` (a generation's key prefix).
  // Returns nullptr (not an error) when the ranks are not all on one host: ranks publish
  // `host_id` (empty: ThisHostId()) and compare. CANCELLED when `stop` is requested first.
  static absl::StatusOr<std::unique_ptr<SharedMemoryReducer>> Attach(
      KeyValueStore* store, const std::string& prefix, int rank, int world_size,
      size_t capacity_floats, absl::Duration timeout, const std::string& host_id = "",
      std::stop_token stop = {});
  ~SharedMemoryReducer();
  SharedMemoryReducer(const SharedMemoryReducer&) = delete;
  SharedMemoryReducer& operator=(const SharedMemoryReducer&) = delete;

  // In-place sum over all ranks; messages larger than the capacity go through in pieces.
  absl::Status Allreduce(absl::Span<float> data, absl::Duration timeout);
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
  absl::Status Barrier(absl::Time deadline);
  float* Slot(int rank) const;
  void Poison();

  void* const mapping_;
  const size_t mapping_bytes_;
  Header* const header_;
  const int rank_;
  const int world_size_;
  const size_t capacity_floats_;
  std::atomic<bool> aborted_{false};
};

}  // namespace cosched::collectives
