// File: worker/trainer/membership.cc
#include "worker/trainer/membership.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/rendezvous_keys.h"
#include "common/status_macros.h"

namespace cosched::worker {
namespace {

// How often a survivor waiting for the others' keys checks whether their processes ended.
constexpr absl::Duration kEndedCheckInterval = absl::Milliseconds(10);

}  // namespace

absl::StatusOr<Membership> NoRecovery::Next(const Membership& current, int64_t /*newer_than*/) {
  return absl::UnavailableError(absl::StrCat("a rank of generation ", current.generation,
                                             " was lost and this job cannot change members "
                                             "(standalone under mpirun); stopping"));
}

// Survivors of one generation decide the next together, so `newer_than` is always
// current.generation here (the trainer retries only under the scheduler).
absl::StatusOr<Membership> FileStoreMembership::Next(const Membership& current,
                                                     int64_t /*newer_than*/) {
  if (process_of_rank_.empty()) {
    for (int r = 0; r < current.world_size; ++r) process_of_rank_.push_back(r);
  }
  if (static_cast<int>(process_of_rank_.size()) != current.world_size) {
    return absl::InternalError(absl::StrCat("generation ", current.generation, " has ",
                                            current.world_size, " ranks but this rank knows ",
                                            process_of_rank_.size(), " processes of it"));
  }
  const int64_t next_generation = current.generation + 1;
  const std::string prefix = absl::StrCat(GenerationPrefix(job_id_, next_generation), "alive/");
  RETURN_IF_ERROR(store_->Set(absl::StrCat(prefix, current.rank), {'1'}));
  std::vector<std::string> alive_keys;
  for (int r = 0; r < current.world_size; ++r) alive_keys.push_back(absl::StrCat(prefix, r));
  AwaitEveryOldRank(alive_keys);

  Membership next;
  next.generation = next_generation;
  next.new_rank_of_old.assign(current.world_size, -1);
  std::vector<int> survivors;
  for (int r = 0; r < current.world_size; ++r) {
    if (store_->Wait({alive_keys[r]}, absl::ZeroDuration()).ok()) {
      next.new_rank_of_old[r] = static_cast<int>(survivors.size());
      survivors.push_back(process_of_rank_[r]);
    }
  }
  next.world_size = static_cast<int>(survivors.size());
  next.rank = next.new_rank_of_old[current.rank];
  process_of_rank_ = std::move(survivors);
  return next;
}

void FileStoreMembership::AwaitEveryOldRank(const std::vector<std::string>& alive_keys) {
  const absl::Time deadline = absl::Now() + settle_;
  while (true) {
    // A process is checked after its key: one that published and then died still counts
    // (its key is there for every survivor to see), and one that ended before publishing
    // never will.
    std::vector<std::string> unknown;
    for (size_t r = 0; r < alive_keys.size(); ++r) {
      if (store_->Wait({alive_keys[r]}, absl::ZeroDuration()).ok()) continue;
      if (ended_ != nullptr && ended_(process_of_rank_[r]) &&
          !store_->Wait({alive_keys[r]}, absl::ZeroDuration()).ok()) {
        continue;
      }
      unknown.push_back(alive_keys[r]);
    }
    const absl::Time now = absl::Now();
    if (unknown.empty() || now >= deadline) return;
    // Returns early when the keys arrive; a process that ends is noticed within the slice.
    store_->Wait(unknown, std::min(deadline - now, kEndedCheckInterval)).IgnoreError();
  }
}

}  // namespace cosched::worker
