// File: scheduler/service/rendezvous_cleanup.cc
#include "scheduler/service/rendezvous_cleanup.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/rendezvous_keys.h"

namespace cosched::scheduler {

void RendezvousCleanup::GenerationsEnded(const JobId& job, int64_t generation) {
  absl::StatusOr<size_t> deleted = size_t{0};
  if (generation == std::numeric_limits<int64_t>::max()) {
    oldest_kept_.erase(job);
    deleted = table_->DeletePrefix(absl::StrCat("job/", job, "/"));
  } else {
    int64_t& oldest = oldest_kept_[job];  // 0 for a job not seen before (or since a restart)
    size_t total = 0;
    for (; oldest < generation && deleted.ok(); ++oldest) {
      deleted = table_->DeletePrefix(GenerationPrefix(job, oldest));
      if (deleted.ok()) total += *deleted;
    }
    if (deleted.ok()) deleted = total;
  }
  // Only a closed table refuses (at shutdown): nothing is left to clean then.
  if (!deleted.ok()) {
    spdlog::debug("rendezvous keys of job {} not deleted: {}", job, deleted.status().ToString());
  }
}

}  // namespace cosched::scheduler
