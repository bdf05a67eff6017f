// File: common/collectives_config.h
// The `collectives:` section of a job config, as plain data: what a job asks of the
// collectives its ranks form. Both sides read it: the worker (collectives/ turns it into
// GroupOptions; AlgorithmSelector::FromConfig builds the size rules) and the scheduler, which
// checks a submitted job. Nothing here depends on collectives/.
//   collectives:
//     timeout: 30s            # bound on rendezvous and on every operation
//     shared_memory: true     # ranks on one host allreduce through shared memory
//     shared_memory_bytes_per_rank: 16MiB
//     allreduce:
//       algorithm: auto | <name>   # force one algorithm for every size
//       rules:                     # or replace the size rules
//         - {min_bytes: 0, algorithm: halving-doubling}
//         - {min_bytes: 256KiB, algorithm: allreduce-ring}
// configs/collectives.yaml is the documented example. A rank's address is not part of the
// job: every rank advertises its own (cosched-worker --advertise-address); the old
// `listen_host` key is refused with that advice.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config.h"

namespace cosched {

// The allreduce algorithm names a config may give: "auto" first, then every concrete one
// (collectives/algorithm.h maps each to its implementation; a test keeps the two in step).
const std::vector<std::string>& AllreduceAlgorithmNames();
// OK for a name in AllreduceAlgorithmNames(), else InvalidArgument
// "unknown allreduce algorithm '<name>' (known: auto, ring, ...)".
absl::Status CheckAllreduceAlgorithmName(absl::string_view name);

// One size rule: messages of at least `min_bytes` use `algorithm` (a concrete name).
struct AllreduceRule {
  uint64_t min_bytes = 0;
  std::string algorithm;
};

struct AllreduceConfig {
  // "auto": `rules` pick by message size (none: collectives' measured defaults). Any other
  // name runs that algorithm at every size, and then `rules` must be empty.
  std::string algorithm = "auto";
  std::vector<AllreduceRule> rules;
};

struct CollectivesConfig {
  absl::Duration timeout = absl::Seconds(30);
  bool shared_memory = true;
  uint64_t shared_memory_bytes_per_rank = 16 << 20;
  AllreduceConfig allreduce;
};

// Reads an optional `allreduce:` section (see above).
absl::StatusOr<AllreduceConfig> ParseAllreduceConfig(const ConfigNode& section);
absl::StatusOr<CollectivesConfig> ParseCollectivesConfig(const ConfigNode& section);

}  // namespace cosched
