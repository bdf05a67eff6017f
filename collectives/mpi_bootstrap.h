// File: collectives/mpi_bootstrap.h
// Bootstrap under `mpirun`: rank and world size come from MPI, and rendezvous entries are
// exchanged with MPI collectives (MpiExchangeStore). After bootstrap every byte of training
// traffic goes over gloo; MPI is only the launcher and the address book.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collectives/key_value_store.h"

namespace cosched::collectives {

// True when this process was started by an MPI launcher (Open MPI or a PMI-based one).
bool LaunchedByMpi();

// Owns MPI_Init/MPI_Finalize for the process. Create at most one, from main().
class MpiSession {
 public:
  static absl::StatusOr<std::unique_ptr<MpiSession>> Init(int* argc, char*** argv);
  ~MpiSession();  // MPI_Finalize
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }

 private:
  MpiSession(int rank, int world_size) : rank_(rank), world_size_(world_size) {}
  const int rank_;
  const int world_size_;
};

// A KeyValueStore whose Set() records locally and whose Wait() runs one MPI exchange of all
// entries set since the last exchange. That fits gloo's full-mesh connect, where every rank
// sets its address and then waits for the others. Wait() is thus collective: every rank must
// call it the same number of times. Not thread-safe: one thread per process uses it.
class MpiExchangeStore final : public KeyValueStore {
 public:
  explicit MpiExchangeStore(const MpiSession& session);

  absl::Status Set(absl::string_view key, const std::vector<char>& value) override;
  absl::Status Wait(const std::vector<std::string>& keys, absl::Duration timeout) override;
  absl::StatusOr<std::vector<char>> Get(absl::string_view key, absl::Duration timeout) override;

 private:
  absl::Status Exchange();

  std::map<std::string, std::vector<char>, std::less<>> known_;
  std::map<std::string, std::vector<char>> unpublished_;
};

}  // namespace cosched::collectives
