// File: scheduler/store/file_recovery.cc
#include "scheduler/store/file_recovery.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/posix_io.h"
#include "common/status_macros.h"
#include "scheduler/store/snapshot_format.h"
#include "scheduler/store/store_directory.h"
#include "scheduler/store/wal_format.h"

namespace cosched::scheduler {
namespace {

constexpr absl::string_view kSetAsideSuffix = ".corrupt";

// Changes to the directory, made only once recovery knows the directory is usable.
struct Repairs {
  std::optional<std::pair<std::string, uint64_t>> cut;  // file name, new size
  std::vector<std::string> set_aside;                   // corrupt snapshot names
};

// The newest snapshot that decodes. Damaged newer ones go to `repairs->set_aside` with a
// warning; an unsupported version stops recovery rather than silently going back in time.
absl::Status ChooseSnapshot(const std::string& directory,
                            const std::map<uint64_t, std::string>& snapshots,
                            StateStore::Recovered* recovered, Repairs* repairs) {
  std::vector<std::string> problems;
  for (auto it = snapshots.rbegin(); it != snapshots.rend(); ++it) {
    const std::string& name = it->second;
    ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(absl::StrCat(directory, "/", name)));
    absl::StatusOr<DecodedSnapshot> snapshot = DecodeSnapshot(bytes, name);
    if (snapshot.ok() && snapshot->last_sequence != it->first) {
      snapshot =
          absl::DataLossError(absl::StrCat(name, " offset 12: covers records up to ",
                                           snapshot->last_sequence, ", not what its name says"));
    } else if (snapshot.ok() && snapshot->last_sequence == 0) {
      snapshot = absl::DataLossError(absl::StrCat(name, " offset 12: covers no record"));
    }
    if (absl::IsFailedPrecondition(snapshot.status())) return snapshot.status();
    if (snapshot.ok()) {
      for (const std::string& problem : problems) {
        recovered->warnings.push_back(absl::StrCat("skipped a corrupt snapshot (", problem,
                                                   "); recovered from ", name,
                                                   " and the records after it"));
      }
      recovered->snapshot = std::move(snapshot->state);
      recovered->snapshot_sequence = snapshot->last_sequence;
      return absl::OkStatus();
    }
    problems.push_back(std::string(snapshot.status().message()));
    repairs->set_aside.push_back(name);
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("no usable snapshot in ", directory, ": ", absl::StrJoin(problems, "; ")));
}

// The log must run without a gap from the record after the snapshot: a segment starts where
// the one before ended, or anywhere the snapshot already covers.
absl::Status CheckSegmentStart(const std::string& name, uint64_t first, uint64_t expected,
                               uint64_t snapshot_sequence) {
  if (expected != 0 && first < expected) {
    return absl::DataLossError(absl::StrCat(name, " offset 12: starts at record ", first,
                                            " but the segment before ends at ", expected - 1));
  }
  if (first > snapshot_sequence + 1 && (expected == 0 || first > expected)) {
    const uint64_t missing_from = expected == 0 ? snapshot_sequence + 1 : expected;
    return absl::DataLossError(absl::StrCat(name, " offset 12: starts at record ", first,
                                            "; records ", missing_from, " to ", first - 1,
                                            " are missing"));
  }
  return absl::OkStatus();
}

absl::Status ApplyRepairs(const std::string& directory, const Repairs& repairs,
                          const std::vector<std::string>& temporaries) {
  if (repairs.cut) {
    RETURN_IF_ERROR(
        TruncateFile(absl::StrCat(directory, "/", repairs.cut->first), repairs.cut->second));
  }
  for (const std::string& name : repairs.set_aside) {
    const std::string path = absl::StrCat(directory, "/", name);
    if (std::rename(path.c_str(), absl::StrCat(path, kSetAsideSuffix).c_str()) != 0) {
      return ErrnoError("cannot set aside corrupt snapshot", path);
    }
  }
  for (const std::string& name : temporaries) {
    RETURN_IF_ERROR(RemoveFile(absl::StrCat(directory, "/", name)));
  }
  if (repairs.set_aside.empty() && temporaries.empty()) return absl::OkStatus();
  return FsyncDirectory(directory);
}

}  // namespace

absl::StatusOr<FileStoreRecovery> RecoverStoreDirectory(const std::string& directory) {
  ASSIGN_OR_RETURN(StoreListing listing, ListStoreDirectory(directory));
  FileStoreRecovery out;
  StateStore::Recovered& recovered = out.recovered;
  Repairs repairs;
  RETURN_IF_ERROR(ChooseSnapshot(directory, listing.snapshots, &recovered, &repairs));
  const uint64_t snapshot_sequence = recovered.snapshot_sequence;

  uint64_t expected = 0;  // the sequence the next record must have; 0 before the first segment
  size_t index = 0;
  for (const auto& [name_sequence, name] : listing.segments) {
    const bool last = ++index == listing.segments.size();
    ASSIGN_OR_RETURN(std::string bytes, ReadWholeFile(absl::StrCat(directory, "/", name)));
    ASSIGN_OR_RETURN(WalSegmentScan scan, ScanWalSegment(bytes, name, snapshot_sequence));
    if (scan.first_sequence != name_sequence) {
      return absl::DataLossError(absl::StrCat(name,
                                              " offset 12: header says the segment starts at ",
                                              scan.first_sequence, ", not what its name says"));
    }
    RETURN_IF_ERROR(CheckSegmentStart(name, scan.first_sequence, expected, snapshot_sequence));
    if (scan.damage) {
      const WalDamage& damage = *scan.damage;
      const std::string where = absl::StrCat(name, " offset ", damage.offset);
      // Only the end of the newest segment can be mid-write at a crash; older segments were
      // complete and synced before the next one began.
      if (!last) {
        return absl::DataLossError(
            absl::StrCat(where, ": ", damage.reason, " in a segment that newer segments follow"));
      }
      if (damage.intact_frame_after) {
        return absl::DataLossError(absl::StrCat(where, ": ", damage.reason,
                                                ", yet an intact record follows at offset ",
                                                *damage.intact_frame_after));
      }
      repairs.cut = std::make_pair(name, static_cast<uint64_t>(damage.offset));
      recovered.warnings.push_back(
          absl::StrCat("cut a torn record at ", where, " (", damage.reason, ")"));
    }
    for (auto& record : scan.records) recovered.records.push_back(std::move(record));
    expected = scan.next_sequence;
    out.segments.push_back(scan.first_sequence);
    if (last) out.tail = FileStoreRecovery::Tail{scan.first_sequence, scan.intact_bytes};
  }

  const uint64_t last_logged = expected == 0 ? 0 : expected - 1;
  out.last_sequence = std::max(snapshot_sequence, last_logged);
  if (expected != 0 && last_logged < snapshot_sequence) {
    // Harmless (the snapshot holds those records' effects), but the log must restart at the
    // record after the snapshot, in a new segment.
    recovered.warnings.push_back(absl::StrCat("the log ends at record ", last_logged,
                                              ", before the snapshot's ", snapshot_sequence));
    out.tail.reset();
  }
  for (const auto& [sequence, name] : listing.snapshots) {
    if (sequence <= snapshot_sequence) out.snapshots.push_back(sequence);  // newer: set aside
  }
  RETURN_IF_ERROR(ApplyRepairs(directory, repairs, listing.temporaries));
  return out;
}

}  // namespace cosched::scheduler
