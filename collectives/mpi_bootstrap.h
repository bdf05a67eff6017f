// File: collectives/mpi_bootstrap.h
// Bootstrap under `mpirun`: rank and world size come from MPI, and the rendezvous entries
// gloo needs are exchanged with MPI collectives. After bootstrap every byte of training
// traffic goes over gloo; MPI is only the launcher and the address book.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "collectives/collective_group.h"
#include "collectives/memory_store.h"

namespace cosched::collectives {

// True when this process was started by an MPI launcher (Open MPI or a PMI-based one).
bool LaunchedByMpi();

// Owns MPI_Init/MPI_Finalize for the process. Create at most one, from main(); only the
// thread that created it calls MPI.
class MpiSession {
 public:
  static absl::StatusOr<std::unique_ptr<MpiSession>> Init(int* argc, char*** argv);
  ~MpiSession();  // MPI_Finalize
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }

  // Forms the CollectiveGroup of all MPI ranks (options.rank, world_size and store are
  // filled in here). gloo's rendezvous runs on a helper thread against a local store, while
  // this thread exchanges the store's new entries with every rank in rounds of MPI
  // collectives until all ranks have connected. Rounds keep the ranks in lockstep whatever
  // order gloo sets and reads its keys in. Collective: every rank must call it.
  absl::StatusOr<std::unique_ptr<CollectiveGroup>> CreateGroup(GroupOptions options);

 private:
  MpiSession(int rank, int world_size) : rank_(rank), world_size_(world_size) {}
  const int rank_;
  const int world_size_;
};

// The store behind MpiSession::CreateGroup: an InMemoryStore that also remembers which
// entries were set locally and not yet sent to the other ranks.
class OutboxStore final : public KeyValueStore {
 public:
  absl::Status Set(absl::string_view key, const std::vector<char>& value) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Wait(const std::vector<std::string>& keys, absl::Duration timeout) override {
    return entries_.Wait(keys, timeout);
  }
  absl::StatusOr<std::vector<char>> Get(absl::string_view key, absl::Duration timeout) override {
    return entries_.Get(key, timeout);
  }

  // Entries set locally since the last call.
  std::vector<std::pair<std::string, std::vector<char>>> TakeOutbox() ABSL_LOCKS_EXCLUDED(mu_);
  // Adds entries received from other ranks (they do not go to the outbox).
  void Merge(const std::vector<std::pair<std::string, std::vector<char>>>& entries);

 private:
  InMemoryStore entries_;
  Mutex mu_;
  std::vector<std::pair<std::string, std::vector<char>>> outbox_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::collectives
