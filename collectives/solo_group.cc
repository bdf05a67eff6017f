// File: collectives/solo_group.cc
#include "collectives/solo_group.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace cosched::collectives {
namespace {

absl::Status NotForOneRank() {
  return absl::InternalError("a one-rank group was asked to communicate");
}

}  // namespace

absl::StatusOr<std::unique_ptr<CollectiveGroup>> SoloGroup::Create(const GroupOptions& options) {
  if (options.world_size != 1 || options.rank != 0) {
    return absl::InvalidArgumentError(absl::StrCat("a solo group has one rank, not rank ",
                                                   options.rank, " of ", options.world_size));
  }
  RETURN_IF_ERROR(ValidateGroupOptions(options, StoreUse::kNotUsed));
  GroupIdentity identity{options.job_id, options.generation, 0, 1, options.timeout};
  return std::unique_ptr<CollectiveGroup>(new SoloGroup(std::move(identity)));
}

absl::Span<float> SoloGroup::StagingBuffer(size_t count) {
  std::vector<float>& buffer = staging_[count];
  buffer.resize(count);
  return absl::MakeSpan(buffer);
}

void SoloGroup::Abort(absl::string_view reason) {
  MutexLock lock(&mu_);
  if (aborted_.ok()) aborted_ = absl::AbortedError(absl::StrCat("aborted: ", reason));
}

absl::Status SoloGroup::health() const {
  MutexLock lock(&mu_);
  return aborted_;
}

absl::Status SoloGroup::DoAllreduce(absl::Span<float>, AllreduceAlgorithm) {
  return NotForOneRank();
}
absl::Status SoloGroup::DoBroadcast(absl::Span<char>, int) { return NotForOneRank(); }
absl::Status SoloGroup::DoAllgather(absl::Span<const float>, absl::Span<float>) {
  return NotForOneRank();
}
absl::Status SoloGroup::DoBarrier() { return NotForOneRank(); }

}  // namespace cosched::collectives
