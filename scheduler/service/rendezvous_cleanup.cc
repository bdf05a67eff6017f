// File: scheduler/service/rendezvous_cleanup.cc
#include "scheduler/service/rendezvous_cleanup.h"

#include <algorithm>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "common/rendezvous_keys.h"

namespace cosched::scheduler {

namespace {

// The job and generation of a key "job/<id>/gen/<g>/...", if it is one.
bool ParseGenerationKey(absl::string_view key, absl::string_view* job, int64_t* generation) {
  if (!absl::ConsumePrefix(&key, "job/")) return false;
  const size_t gen = key.find("/gen/");
  if (gen == absl::string_view::npos) return false;
  *job = key.substr(0, gen);
  key.remove_prefix(gen + 5);
  const size_t end = key.find('/');
  return end != absl::string_view::npos && absl::SimpleAtoi(key.substr(0, end), generation);
}

}  // namespace

RendezvousCleanup::RendezvousCleanup(CoreOutbox* sessions, KvTable* table)
    : sessions_(sessions), table_(table) {
  table_->set_gate([this](absl::string_view key) { return Admit(key); });
}

RendezvousCleanup::~RendezvousCleanup() { table_->set_gate(nullptr); }

absl::Status RendezvousCleanup::Admit(absl::string_view key) const {
  absl::string_view job;
  int64_t generation = 0;
  if (!ParseGenerationKey(key, &job, &generation)) return absl::OkStatus();
  MutexLock lock(&mu_);
  if (ended_jobs_.contains(job)) {
    return absl::CancelledError(
        absl::StrCat("job ", job, " has ended: rendezvous key ", QuotedKey(key), " is refused"));
  }
  auto it = oldest_kept_.find(job);
  if (it != oldest_kept_.end() && generation < it->second) {
    return absl::CancelledError(absl::StrCat(
        "generation ", generation, " of job ", job, " has ended (generation ", it->second,
        " or newer runs): rendezvous key ", QuotedKey(key), " is refused"));
  }
  return absl::OkStatus();
}

void RendezvousCleanup::GenerationsEnded(const JobId& job, int64_t generation) {
  absl::StatusOr<size_t> deleted = size_t{0};
  if (generation == std::numeric_limits<int64_t>::max()) {
    {
      MutexLock lock(&mu_);
      oldest_kept_.erase(job);
      ended_jobs_.insert(job);
    }
    deleted = table_->DeletePrefix(absl::StrCat("job/", job, "/"));
  } else {
    int64_t oldest = 0;
    {
      // Refused from now on, so that none is published again after the deletion below.
      MutexLock lock(&mu_);
      int64_t& kept = oldest_kept_[job];  // 0 for a job not seen before (or since a restart)
      oldest = kept;
      kept = std::max(kept, generation);
    }
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
