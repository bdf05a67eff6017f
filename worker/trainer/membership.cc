// File: worker/trainer/membership.cc
#include "worker/trainer/membership.h"

#include "absl/strings/str_cat.h"
#include "common/rendezvous_keys.h"
#include "common/status_macros.h"

namespace cosched::worker {

absl::StatusOr<Membership> NoRecovery::Next(const Membership& current, int64_t /*newer_than*/) {
  return absl::UnavailableError(absl::StrCat("a rank of generation ", current.generation,
                                             " was lost and this job cannot change members "
                                             "(standalone under mpirun); stopping"));
}

// Survivors of one generation decide the next together, so `newer_than` is always
// current.generation here (the trainer retries only under the scheduler).
absl::StatusOr<Membership> FileStoreMembership::Next(const Membership& current,
                                                     int64_t /*newer_than*/) {
  const int64_t next_generation = current.generation + 1;
  const std::string prefix = absl::StrCat(GenerationPrefix(job_id_, next_generation), "alive/");
  RETURN_IF_ERROR(store_->Set(absl::StrCat(prefix, current.rank), {'1'}));
  std::vector<std::string> all_keys;
  for (int r = 0; r < current.world_size; ++r) all_keys.push_back(absl::StrCat(prefix, r));
  // Returns early when every old rank is alive (the failure was a false alarm); otherwise
  // the window passes and the present keys decide.
  store_->Wait(all_keys, settle_).IgnoreError();

  Membership next;
  next.generation = next_generation;
  next.new_rank_of_old.assign(current.world_size, -1);
  int survivors = 0;
  for (int r = 0; r < current.world_size; ++r) {
    if (store_->Wait({all_keys[r]}, absl::ZeroDuration()).ok()) {
      next.new_rank_of_old[r] = survivors++;
    }
  }
  next.world_size = survivors;
  next.rank = next.new_rank_of_old[current.rank];
  return next;
}

}  // namespace cosched::worker
