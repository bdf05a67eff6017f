// File: collectives/memory_store.cc
#include "collectives/memory_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace cosched::collectives {

absl::Status InMemoryStore::Set(absl::string_view key, const std::vector<char>& value) {
  MutexLock lock(&mu_);
  entries_.insert_or_assign(std::string(key), value);
  changed_.SignalAll();
  return absl::OkStatus();
}

absl::Status InMemoryStore::Wait(const std::vector<std::string>& keys, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&mu_);
  while (true) {
    std::vector<absl::string_view> missing;
    for (const std::string& key : keys) {
      if (!entries_.contains(key)) missing.push_back(key);
    }
    if (missing.empty()) return absl::OkStatus();
    if (changed_.WaitWithDeadline(&mu_, deadline) && absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("rendezvous keys still missing after ",
                                                      absl::FormatDuration(timeout), ": ",
                                                      absl::StrJoin(missing, ", ")));
    }
  }
}

absl::StatusOr<std::vector<char>> InMemoryStore::Get(absl::string_view key,
                                                     absl::Duration timeout) {
  RETURN_IF_ERROR(Wait({std::string(key)}, timeout));
  MutexLock lock(&mu_);
  return entries_.find(key)->second;
}

size_t InMemoryStore::size() const {
  MutexLock lock(&mu_);
  return entries_.size();
}

}  // namespace cosched::collectives
