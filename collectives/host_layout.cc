// File: collectives/host_layout.cc
#include "collectives/host_layout.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched::collectives {

std::string ThisHostId() {
  std::ifstream boot("/proc/sys/kernel/random/boot_id");
  std::string boot_id;
  std::getline(boot, boot_id);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return absl::StrCat(boot_id, "/", host);
}

HostLayout HostLayout::FromHostIds(const std::vector<std::string>& host_ids, int rank) {
  HostLayout layout;
  layout.rank = rank;
  layout.world_size = static_cast<int>(host_ids.size());
  std::map<std::string, int> leader_of_host;  // ranks ascend, so the first seen leads
  std::map<std::string, int> ranks_on_host;
  for (int r = 0; r < layout.world_size; ++r) {
    layout.largest_host_size = std::max(layout.largest_host_size, ++ranks_on_host[host_ids[r]]);
    if (leader_of_host.emplace(host_ids[r], r).second) {
      if (r == rank) layout.leader_index = static_cast<int>(layout.leaders.size());
      layout.leaders.push_back(r);
    }
    if (host_ids[r] == host_ids[rank]) {
      if (r == rank) layout.local_rank = static_cast<int>(layout.local_ranks.size());
      layout.local_ranks.push_back(r);
    }
  }
  return layout;
}

absl::StatusOr<HostLayout> HostLayout::Exchange(KeyValueStore* store, const std::string& prefix,
                                                int rank, int world_size,
                                                const std::string& host_id, absl::Duration timeout,
                                                std::stop_token stop) {
  const std::string mine = host_id.empty() ? ThisHostId() : host_id;
  const std::string key_prefix = absl::StrCat(prefix, "host/");
  RETURN_IF_ERROR(store->Set(absl::StrCat(key_prefix, rank), {mine.begin(), mine.end()}));
  std::vector<std::string> keys;
  for (int r = 0; r < world_size; ++r) keys.push_back(absl::StrCat(key_prefix, r));
  RETURN_IF_ERROR(store->WaitUnlessStopped(keys, timeout, stop));
  std::vector<std::string> host_ids;
  for (const std::string& key : keys) {
    ASSIGN_OR_RETURN(const std::vector<char> id, store->GetUnlessStopped(key, timeout, stop));
    host_ids.emplace_back(id.begin(), id.end());
  }
  return FromHostIds(host_ids, rank);
}

}  // namespace cosched::collectives
