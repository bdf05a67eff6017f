// File: scheduler/service/rendezvous_access.cc
#include "scheduler/service/rendezvous_access.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/rendezvous_keys.h"

namespace cosched::scheduler {

void RendezvousAccess::Assign(const NodeId& node, const Assignment& assignment) {
  {
    MutexLock lock(&mu_);
    members_[assignment.job][node] = assignment.generation;
  }
  next_->Assign(node, assignment);
}

void RendezvousAccess::Revoke(const NodeId& node, const Revocation& revocation) {
  {
    MutexLock lock(&mu_);
    auto job = members_.find(revocation.job);
    if (job != members_.end()) {
      auto member = job->second.find(node);
      // A revocation of an older generation does not undo a newer assignment.
      if (member != job->second.end() && member->second <= revocation.generation) {
        job->second.erase(member);
      }
      if (job->second.empty()) members_.erase(job);
    }
  }
  next_->Revoke(node, revocation);
}

void RendezvousAccess::GenerationsEnded(const JobId& job, int64_t generation) {
  if (generation == std::numeric_limits<int64_t>::max()) {  // the job ended
    MutexLock lock(&mu_);
    members_.erase(job);
  }
  next_->GenerationsEnded(job, generation);
}

absl::Status RendezvousAccess::Check(absl::string_view node, absl::string_view key) const {
  absl::string_view rest = key;
  const size_t slash =
      absl::ConsumePrefix(&rest, "job/") ? rest.find('/') : absl::string_view::npos;
  if (slash == absl::string_view::npos || slash == 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("node ", node, " may not use rendezvous key ", QuotedKey(key),
                     ": nodes may use only keys under job/<id>/ of their own jobs"));
  }
  const absl::string_view job = rest.substr(0, slash);
  MutexLock lock(&mu_);
  auto members = members_.find(job);
  if (members == members_.end() || !members->second.contains(node)) {
    return absl::PermissionDeniedError(absl::StrCat("node ", node, " may not use rendezvous key ",
                                                    QuotedKey(key), ": it is no member of job ",
                                                    job));
  }
  return absl::OkStatus();
}

}  // namespace cosched::scheduler
