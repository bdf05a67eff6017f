// File: scheduler/kv/kv_table.h
// KvTable: the scheduler's in-process rendezvous key-value table. Workers of a (job,
// generation) publish their gloo addresses under "job/<id>/gen/<g>/..." and wait for each
// other's (through RendezvousService); the scheduler drops a finished generation's keys with
// DeletePrefix. Key rules and key-list messages are shared with the clients
// (common/rendezvous_keys.h).
//
// Two ways to wait: blocking (Wait / Get, for threads that may block) and Watch, a callback
// that runs once the keys exist, so the gRPC service holds no thread per waiting client.
// Every limit is checked up front: a bad key or an oversized value is INVALID_ARGUMENT, a
// full table RESOURCE_EXHAUSTED, each naming what was wrong. Close() ends every wait with
// UNAVAILABLE and refuses everything after it.
//
// Thread-safe. Callbacks never run under the table's lock, so they may call back into it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/rendezvous_keys.h"

namespace cosched::scheduler {

struct KvTableOptions {
  size_t max_key_bytes = 512;
  size_t max_value_bytes = size_t{1} << 20;
  size_t max_keys = 100000;
  // Keys plus values of every entry: bounds memory whatever mix of sizes clients send.
  size_t max_total_bytes = size_t{256} << 20;
};

class KvTable {
 public:
  // Values are shared, not copied, when a waiter is handed them.
  using Value = std::shared_ptr<const std::string>;
  // Either the values of the watched keys, in the order they were given, or UNAVAILABLE.
  using WatchCallback = std::function<void(absl::StatusOr<std::vector<Value>>)>;
  using WatchId = uint64_t;
  // What Watch returns when the keys already existed and the callback has already run.
  static constexpr WatchId kAlreadyDone = 0;

  explicit KvTable(KvTableOptions options = {});
  // Close()s, so pending watches hear UNAVAILABLE. No other call may still be in flight.
  ~KvTable();
  KvTable(const KvTable&) = delete;
  KvTable& operator=(const KvTable&) = delete;

  // Decides whether `key` may still be published: a non-OK status refuses the Set with it.
  // The scheduler refuses the keys of generations that have ended (RendezvousCleanup): nobody
  // reads them and nothing would delete them again.
  using Gate = std::function<absl::Status(absl::string_view key)>;
  // Replaces the gate (null: none); waits for calls of the old one to return.
  void set_gate(Gate gate) ABSL_LOCKS_EXCLUDED(gate_mu_);

  // Publishes `value` under `key`, replacing any earlier value.
  absl::Status Set(absl::string_view key, std::string value) ABSL_LOCKS_EXCLUDED(mu_, gate_mu_);

  // Blocks until every key exists (OK), `timeout` passes (DEADLINE_EXCEEDED naming the keys
  // still missing) or the table closes (UNAVAILABLE). A zero timeout checks once.
  absl::Status Wait(const std::vector<std::string>& keys, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Waits like Wait for one key, then returns its value.
  absl::StatusOr<std::string> Get(absl::string_view key, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Calls `done` exactly once, unless Unwatch removes it first: with the values once every key
  // exists, or with UNAVAILABLE when the table closes. It runs on the thread that completes it
  // (this one if the keys already exist, which returns kAlreadyDone; else a Set or Close).
  // Invalid keys and a closed table are refused here, and then `done` is never called.
  absl::StatusOr<WatchId> Watch(std::vector<std::string> keys, WatchCallback done)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes a watch; false when its callback has already run or is running.
  bool Unwatch(WatchId id) ABSL_LOCKS_EXCLUDED(mu_);

  // The keys of `keys` that do not exist now, in order (for timeout messages).
  std::vector<std::string> MissingKeys(const std::vector<std::string>& keys) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Drops every key starting with `prefix` (non-empty) and returns how many were dropped.
  absl::StatusOr<size_t> DeletePrefix(absl::string_view prefix) ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every blocked Wait / Get and every watch with UNAVAILABLE; later calls fail the same
  // way. Idempotent.
  void Close() ABSL_LOCKS_EXCLUDED(mu_);

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t total_bytes() const ABSL_LOCKS_EXCLUDED(mu_);
  // Blocked Wait / Get calls plus pending watches (for metrics, and tests that must know a
  // waiter has arrived).
  size_t waiting() const ABSL_LOCKS_EXCLUDED(mu_);
  const KvTableOptions& options() const { return options_; }

 private:
  struct Watcher {
    std::vector<std::string> keys;
    WatchCallback done;
    // A watcher is indexed under one key it still misses; when that key arrives the watcher
    // looks for the next missing one or fires. Deletions never need to touch watchers.
    std::string indexed_under;
  };
  // A watcher ready to be called once the lock is released.
  struct Firing {
    WatchCallback done;
    absl::StatusOr<std::vector<Value>> result;
  };

  absl::Status CheckKey(absl::string_view key, absl::string_view what) const;
  absl::Status CheckKeys(const std::vector<std::string>& keys) const;
  absl::Status ClosedError() const;
  // The first of `keys` not in the table, or nullptr when all exist.
  absl::Status WaitLocked(const std::vector<std::string>& keys, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<std::string> MissingLocked(const std::vector<std::string>& keys) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const std::string* FirstMissing(const std::vector<std::string>& keys) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<Value> ValuesOf(const std::vector<std::string>& keys) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnindexLocked(WatchId id, const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-examines the watchers indexed under `key` (just set): fires the complete ones.
  void CollectReadyLocked(const std::string& key, std::vector<Firing>* firings)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const KvTableOptions options_;

  // Taken around the gate's calls only, never together with mu_.
  Mutex gate_mu_;
  Gate gate_ ABSL_GUARDED_BY(gate_mu_);

  mutable Mutex mu_;
  CondVar changed_;  // signalled on every Set and on Close, for blocking waits
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Value, std::less<>> entries_ ABSL_GUARDED_BY(mu_);
  size_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  size_t blocked_ ABSL_GUARDED_BY(mu_) = 0;
  WatchId next_watch_id_ ABSL_GUARDED_BY(mu_) = kAlreadyDone + 1;
  std::map<WatchId, Watcher> watchers_ ABSL_GUARDED_BY(mu_);
  std::multimap<std::string, WatchId, std::less<>> watchers_by_key_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::scheduler
