// File: scheduler/kv/kv_table.cc
#include "scheduler/kv/kv_table.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched::scheduler {

KvTable::KvTable(KvTableOptions options) : options_(options) {}

KvTable::~KvTable() { Close(); }

absl::Status KvTable::CheckKey(absl::string_view key, absl::string_view what) const {
  RETURN_IF_ERROR(CheckKeyText(key, what));
  if (key.size() > options_.max_key_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("rendezvous ", what, " ", QuotedKey(key),
                                                   " has ", key.size(), " bytes; the limit is ",
                                                   options_.max_key_bytes));
  }
  return absl::OkStatus();
}

absl::Status KvTable::CheckKeys(const std::vector<std::string>& keys) const {
  if (keys.size() > options_.max_keys) {
    return absl::InvalidArgumentError(absl::StrCat("a wait for ", keys.size(),
                                                   " keys exceeds the table's limit of ",
                                                   options_.max_keys, " keys"));
  }
  for (const std::string& key : keys) RETURN_IF_ERROR(CheckKey(key, "key"));
  return absl::OkStatus();
}

absl::Status KvTable::ClosedError() const {
  return absl::UnavailableError("rendezvous table is closed (the scheduler is shutting down)");
}

const std::string* KvTable::FirstMissing(const std::vector<std::string>& keys) const {
  for (const std::string& key : keys) {
    if (!entries_.contains(key)) return &key;
  }
  return nullptr;
}

std::vector<std::string> KvTable::MissingLocked(const std::vector<std::string>& keys) const {
  std::vector<std::string> missing;
  for (const std::string& key : keys) {
    if (!entries_.contains(key)) missing.push_back(key);
  }
  return missing;
}

std::vector<KvTable::Value> KvTable::ValuesOf(const std::vector<std::string>& keys) const {
  std::vector<Value> values;
  values.reserve(keys.size());
  for (const std::string& key : keys) values.push_back(entries_.find(key)->second);
  return values;
}

void KvTable::set_gate(Gate gate) {
  MutexLock lock(&gate_mu_);
  gate_ = std::move(gate);
}

absl::Status KvTable::Set(absl::string_view key, std::string value) {
  RETURN_IF_ERROR(CheckKey(key, "key"));
  {
    MutexLock lock(&gate_mu_);
    if (gate_) RETURN_IF_ERROR(gate_(key));
  }
  if (value.size() > options_.max_value_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("value of rendezvous key ", QuotedKey(key),
                                                   " has ", value.size(), " bytes; the limit is ",
                                                   options_.max_value_bytes));
  }
  std::vector<Firing> firings;
  {
    MutexLock lock(&mu_);
    if (closed_) return ClosedError();
    auto it = entries_.find(key);
    const bool is_new = it == entries_.end();
    if (is_new && entries_.size() >= options_.max_keys) {
      return absl::ResourceExhaustedError(
          absl::StrCat("rendezvous table is full (", options_.max_keys, " keys); cannot add ",
                       QuotedKey(key), "; are old generations being deleted?"));
    }
    const size_t old_bytes = is_new ? 0 : key.size() + it->second->size();
    const size_t new_bytes = key.size() + value.size();
    if (total_bytes_ - old_bytes + new_bytes > options_.max_total_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("rendezvous table holds ", total_bytes_, " bytes; ", QuotedKey(key),
                       " would pass its limit of ", options_.max_total_bytes, " bytes"));
    }
    auto shared = std::make_shared<const std::string>(std::move(value));
    if (is_new) {
      it = entries_.emplace(std::string(key), std::move(shared)).first;
    } else {
      it->second = std::move(shared);
    }
    total_bytes_ = total_bytes_ - old_bytes + new_bytes;
    changed_.SignalAll();
    CollectReadyLocked(it->first, &firings);
  }
  for (Firing& firing : firings) firing.done(std::move(firing.result));
  return absl::OkStatus();
}

absl::Status KvTable::WaitLocked(const std::vector<std::string>& keys, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (closed_) return ClosedError();
    if (FirstMissing(keys) == nullptr) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(MissingKeysMessage(MissingLocked(keys), timeout));
    }
    ++blocked_;
    changed_.WaitWithDeadline(&mu_, deadline);
    --blocked_;
  }
}

absl::Status KvTable::Wait(const std::vector<std::string>& keys, absl::Duration timeout) {
  RETURN_IF_ERROR(CheckKeys(keys));
  MutexLock lock(&mu_);
  return WaitLocked(keys, timeout);
}

absl::StatusOr<std::string> KvTable::Get(absl::string_view key, absl::Duration timeout) {
  RETURN_IF_ERROR(CheckKey(key, "key"));
  const std::vector<std::string> keys = {std::string(key)};
  Value value;
  {
    MutexLock lock(&mu_);
    // The value is read under the same lock the wait ended with, so a DeletePrefix cannot
    // slip in between.
    RETURN_IF_ERROR(WaitLocked(keys, timeout));
    value = entries_.find(key)->second;
  }
  return *value;
}

absl::StatusOr<KvTable::WatchId> KvTable::Watch(std::vector<std::string> keys, WatchCallback done) {
  RETURN_IF_ERROR(CheckKeys(keys));
  std::vector<Value> values;
  {
    MutexLock lock(&mu_);
    if (closed_) return ClosedError();
    if (const std::string* missing = FirstMissing(keys); missing != nullptr) {
      const WatchId id = next_watch_id_++;
      watchers_by_key_.emplace(*missing, id);
      std::string indexed_under = *missing;
      watchers_.emplace(id, Watcher{std::move(keys), std::move(done), std::move(indexed_under)});
      return id;
    }
    values = ValuesOf(keys);
  }
  done(std::move(values));
  return kAlreadyDone;
}

void KvTable::UnindexLocked(WatchId id, const std::string& key) {
  auto [begin, end] = watchers_by_key_.equal_range(key);
  for (auto it = begin; it != end; ++it) {
    if (it->second == id) {
      watchers_by_key_.erase(it);
      return;
    }
  }
}

bool KvTable::Unwatch(WatchId id) {
  MutexLock lock(&mu_);
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return false;
  UnindexLocked(id, it->second.indexed_under);
  watchers_.erase(it);
  return true;
}

void KvTable::CollectReadyLocked(const std::string& key, std::vector<Firing>* firings) {
  auto [begin, end] = watchers_by_key_.equal_range(key);
  std::vector<WatchId> ids;
  for (auto it = begin; it != end; ++it) ids.push_back(it->second);
  watchers_by_key_.erase(begin, end);
  for (WatchId id : ids) {
    auto it = watchers_.find(id);
    Watcher& watcher = it->second;
    if (const std::string* missing = FirstMissing(watcher.keys); missing != nullptr) {
      watcher.indexed_under = *missing;
      watchers_by_key_.emplace(*missing, id);
      continue;
    }
    firings->push_back(Firing{std::move(watcher.done), ValuesOf(watcher.keys)});
    watchers_.erase(it);
  }
}

std::vector<std::string> KvTable::MissingKeys(const std::vector<std::string>& keys) const {
  MutexLock lock(&mu_);
  return MissingLocked(keys);
}

absl::StatusOr<size_t> KvTable::DeletePrefix(absl::string_view prefix) {
  RETURN_IF_ERROR(CheckKey(prefix, "prefix"));
  MutexLock lock(&mu_);
  if (closed_) return ClosedError();
  size_t deleted = 0;
  auto it = entries_.lower_bound(prefix);
  while (it != entries_.end() && absl::StartsWith(it->first, prefix)) {
    total_bytes_ -= it->first.size() + it->second->size();
    it = entries_.erase(it);
    ++deleted;
  }
  return deleted;
}

void KvTable::Close() {
  std::vector<Firing> firings;
  {
    MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    changed_.SignalAll();
    for (auto& [id, watcher] : watchers_) {
      firings.push_back(Firing{std::move(watcher.done), ClosedError()});
    }
    watchers_.clear();
    watchers_by_key_.clear();
  }
  for (Firing& firing : firings) firing.done(std::move(firing.result));
}

size_t KvTable::size() const {
  MutexLock lock(&mu_);
  return entries_.size();
}

size_t KvTable::total_bytes() const {
  MutexLock lock(&mu_);
  return total_bytes_;
}

size_t KvTable::waiting() const {
  MutexLock lock(&mu_);
  return blocked_ + watchers_.size();
}

}  // namespace cosched::scheduler
