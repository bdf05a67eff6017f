// File: scheduler/store/in_memory_state_store.h
// InMemoryStateStore: StateStore semantics without files, for scheduler core unit tests and
// the simulator. What a real store keeps on disk lives in a shared Disk, so a test or the
// simulator can "restart the scheduler" by building a new store over the same Disk.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "common/mutex.h"
#include "scheduler/store/state_store.h"

namespace cosched::scheduler {

class InMemoryStateStore final : public StateStore {
 public:
  // The durable part: survives the store object. Opaque to callers; only share it.
  class Disk {
   private:
    friend class InMemoryStateStore;
    Mutex mu_;
    uint64_t last_sequence_ ABSL_GUARDED_BY(mu_) = 0;
    std::string snapshot_ ABSL_GUARDED_BY(mu_);
    uint64_t snapshot_sequence_ ABSL_GUARDED_BY(mu_) = 0;
    std::deque<std::pair<uint64_t, std::string>> records_ ABSL_GUARDED_BY(mu_);
  };

  // A store over a fresh, empty Disk.
  InMemoryStateStore();
  // A store over `disk`, e.g. the disk() of a store that "crashed".
  explicit InMemoryStateStore(std::shared_ptr<Disk> disk);

  const std::shared_ptr<Disk>& disk() const { return disk_; }

  absl::StatusOr<uint64_t> Append(absl::string_view record) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status WriteSnapshot(absl::string_view state, uint64_t last_sequence) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<Recovered> Recover() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::shared_ptr<Disk> disk_;
  Mutex mu_;  // Taken before disk_->mu_.
  bool recovered_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cosched::scheduler
