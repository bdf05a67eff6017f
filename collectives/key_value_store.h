// File: collectives/key_value_store.h
// KeyValueStore: the rendezvous seam. Ranks of a (job, generation) publish their transport
// addresses under keys and wait for each other's. Implementations:
//   InMemoryStore     one process, ranks as threads (tests)
//   FileStore         a directory shared by processes on one machine (local runs)
//   OutboxStore       under mpirun; entries are exchanged with MPI collectives
//                     (mpi_bootstrap.h)
//   RendezvousClient  a gRPC client of the scheduler's rendezvous KV service
//                     (rendezvous_client.h), for clusters and vehicles, where the scheduler
//                     is the rendezvous and no training node hosts it
// Keys of one generation start with GenerationPrefix (common/rendezvous_keys.h).
// gloo sees any of these through GlooStoreAdapter (gloo_store_adapter.h).
#pragma once

#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cosched::collectives {

class KeyValueStore {
 public:
  virtual ~KeyValueStore() = default;

  // Publishes `value` under `key`. Keys are written once per generation; writing an
  // existing key replaces it.
  virtual absl::Status Set(absl::string_view key, const std::vector<char>& value) = 0;

  // Blocks until every key exists or `timeout` passes (DeadlineExceeded naming the keys
  // still missing).
  virtual absl::Status Wait(const std::vector<std::string>& keys, absl::Duration timeout) = 0;

  // Waits for `key` up to `timeout`, then returns its value.
  virtual absl::StatusOr<std::vector<char>> Get(absl::string_view key, absl::Duration timeout) = 0;

  // Wait and Get that also give up, with CANCELLED, within kStopCheckInterval of `stop`
  // being requested: a member whose generation was superseded stops waiting for peers that
  // moved on. They wait in slices of that interval.
  absl::Status WaitUnlessStopped(const std::vector<std::string>& keys, absl::Duration timeout,
                                 std::stop_token stop);
  absl::StatusOr<std::vector<char>> GetUnlessStopped(absl::string_view key, absl::Duration timeout,
                                                     std::stop_token stop);

  static constexpr absl::Duration kStopCheckInterval = absl::Milliseconds(50);
};

}  // namespace cosched::collectives
