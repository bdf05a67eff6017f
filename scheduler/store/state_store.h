// File: scheduler/store/state_store.h
// StateStore: the scheduler's durable state. The scheduler core appends opaque records
// (serialized protobuf; the store never looks inside) to a write-ahead log and from time to
// time stores a snapshot of its whole state, after which the records it covers may go. On
// restart Recover() hands back the newest usable snapshot and every record after it.
// Implementations:
//   FileStateStore      WAL segments + snapshot files in a directory (the scheduler's default)
//   InMemoryStateStore  same semantics in memory (core unit tests, the simulator)
// Both pass one shared test suite (state_store_test.cc).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cosched::scheduler {

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Appends one record; durable (fsync'd) when it returns OK. Returns its sequence number
  // (1, 2, 3, ... across the store's whole life, continuing after restarts and snapshots).
  virtual absl::StatusOr<uint64_t> Append(absl::string_view record) = 0;

  // Stores `state`, which covers every record up to and including `last_sequence`; records
  // up to it may then be deleted. Atomic: a crash leaves the old or the new snapshot.
  // `last_sequence` must be a sequence already handed out and not older than the newest
  // snapshot (InvalidArgument otherwise).
  virtual absl::Status WriteSnapshot(absl::string_view state, uint64_t last_sequence) = 0;

  struct Recovered {
    std::string snapshot;                                   // empty when there is none
    uint64_t snapshot_sequence = 0;                         // 0 when there is none
    std::vector<std::pair<uint64_t, std::string>> records;  // after the snapshot, in order
    std::vector<std::string> warnings;  // e.g. "cut a torn record at wal-...1.log offset 812"
  };

  // Reads what survived. Call once, before the first Append or WriteSnapshot (they return
  // FailedPrecondition until it succeeded).
  virtual absl::StatusOr<Recovered> Recover() = 0;
};

}  // namespace cosched::scheduler
