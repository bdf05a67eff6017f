// File: collectives/host_layout.h
// HostLayout: which ranks of a group share a host, and so how an allreduce is split between
// shared memory and the network. Every rank publishes its host id at rendezvous; ranks with
// equal ids share a host. The lowest rank of each host is its leader: across hosts only the
// leaders talk over gloo (Horovod's hierarchical allreduce), and they hand the result to the
// other ranks of their host through shared memory.
#pragma once

#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/key_value_store.h"

namespace cosched::collectives {

struct HostLayout {
  int rank = 0;
  int world_size = 1;
  std::vector<int> local_ranks;  // the ranks on this rank's host, ascending (includes rank)
  int local_rank = 0;            // this rank's index in local_ranks
  std::vector<int> leaders;      // the lowest rank of every host, ascending
  int leader_index = -1;         // this rank's index in leaders, -1 if it is not a leader
  int largest_host_size = 1;     // the most ranks any one host holds

  int local_size() const { return static_cast<int>(local_ranks.size()); }
  int host_count() const { return static_cast<int>(leaders.size()); }
  bool is_leader() const { return leader_index >= 0; }
  bool single_host() const { return host_count() == 1; }
  // Some host holds several ranks and there is more than one host: reduce inside each host
  // first, then between leaders.
  bool hierarchical() const { return host_count() > 1 && host_count() < world_size; }

  // From every rank's host id (index = rank).
  static HostLayout FromHostIds(const std::vector<std::string>& host_ids, int rank);

  // Collective: publishes `host_id` under `prefix` and reads every rank's; CANCELLED when
  // `stop` is requested first, DEADLINE_EXCEEDED naming the missing ranks at `timeout`.
  static absl::StatusOr<HostLayout> Exchange(KeyValueStore* store, const std::string& prefix,
                                             int rank, int world_size, const std::string& host_id,
                                             absl::Duration timeout, std::stop_token stop = {});
};

// This machine's identity: the kernel's boot id plus the host name. Processes that share it
// share /dev/shm; a network namespace with a host name of its own counts as another host.
std::string ThisHostId();

}  // namespace cosched::collectives
