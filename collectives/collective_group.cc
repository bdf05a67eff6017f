// File: collectives/collective_group.cc
// The argument checks every CollectiveGroup implementation shares, so the real group and the
// fakes refuse the same calls with the same errors.
#include "collectives/collective_group.h"

#include <climits>

#include "absl/strings/str_cat.h"
#include "common/rendezvous_keys.h"

namespace cosched::collectives {

absl::Status ValidateGroupOptions(const GroupOptions& options, StoreUse store) {
  if (options.job_id.empty()) return absl::InvalidArgumentError("group job_id is empty");
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "group rank ", options.rank, " is not in [0, world_size ", options.world_size, ")"));
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("group timeout must be positive");
  }
  if (store == StoreUse::kRequired && options.store == nullptr && options.world_size > 1) {
    return absl::InvalidArgumentError("a group of more than one rank needs a rendezvous store");
  }
  return absl::OkStatus();
}

absl::Status FormError(const GroupOptions& options, const absl::Status& why) {
  return absl::Status(
      why.code(),
      absl::StrCat("cannot form group ", GenerationPrefix(options.job_id, options.generation),
                   " as rank ", options.rank, "/", options.world_size, ": ", why.message()));
}

absl::Status CollectiveGroup::Allreduce(absl::Span<float> data, AllreduceAlgorithm algorithm) {
  if (data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("allreduce of ", data.size(), " floats exceeds gloo's int count"));
  }
  if (algorithm != AllreduceAlgorithm::kAuto &&
      !AlgorithmSupportsWorldSize(algorithm, world_size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("allreduce algorithm '", AlgorithmName(algorithm), "' needs ",
                     WorldSizeRequirement(algorithm), ", not ", world_size()));
  }
  if (data.empty() || world_size() == 1) return health();
  return DoAllreduce(data, algorithm);
}

absl::Status CollectiveGroup::Broadcast(absl::Span<char> data, int root) {
  if (root < 0 || root >= world_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("broadcast root ", root, " is not in [0, ", world_size(), ")"));
  }
  if (data.empty() || world_size() == 1) return health();
  return DoBroadcast(data, root);
}

absl::Status CollectiveGroup::Broadcast(absl::Span<float> data, int root) {
  return Broadcast(
      absl::Span<char>(reinterpret_cast<char*>(data.data()), data.size() * sizeof(float)), root);
}

absl::Status CollectiveGroup::Allgather(absl::Span<const float> input, absl::Span<float> output) {
  if (output.size() != input.size() * static_cast<size_t>(world_size())) {
    return absl::InvalidArgumentError(absl::StrCat("allgather output holds ", output.size(),
                                                   " floats; it must hold input (", input.size(),
                                                   ") x world size (", world_size(), ")"));
  }
  if (input.empty()) return health();
  if (world_size() == 1) {
    std::copy(input.begin(), input.end(), output.begin());
    return health();
  }
  return DoAllgather(input, output);
}

absl::Status CollectiveGroup::Barrier() {
  if (world_size() == 1) return health();
  return DoBarrier();
}

}  // namespace cosched::collectives
