// File: collectives/algorithm.h
// The allreduce algorithms cosched can run, and AlgorithmSelector, which picks one from the
// message size and world size. The default rules come from measurements on the reference
// machine (docs/benchmarks.md, `cosched-bench allreduce`); a config file or a per-call
// argument overrides them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/collectives_config.h"

namespace cosched::collectives {

enum class AllreduceAlgorithm {
  kAuto,             // let AlgorithmSelector decide
  kRing,             // gloo::AllreduceRing
  kRingChunked,      // gloo::AllreduceRingChunked
  kHalvingDoubling,  // gloo::AllreduceHalvingDoubling
  kBcube,            // gloo::AllreduceBcube
  kAllreduceRing,    // gloo::allreduce (unbound buffers), ring
  kAllreduceBcube,   // gloo::allreduce (unbound buffers), bcube
  // cosched's own, on gloo's pairs: every rank sends its whole vector to every other and sums
  // what it receives. One step where the ring takes two; between 2 ranks it moves the same
  // bytes as the ring, beyond that (world - 1) times the vector, so the rules keep it to 2.
  kExchange,
  // cosched's own, not on gloo: TCP connections of its own that the calling thread reads and
  // writes itself, with no gloo loop thread in between (direct_algorithm.h). Between 2 ranks
  // (or 2 hosts' leaders) one link and an exchange of halves, among more a pipelined ring.
  kDirect,
};

// Every concrete algorithm (not kAuto), in a fixed order.
const std::vector<AllreduceAlgorithm>& AllAlgorithms();
// "auto", "ring", "ring-chunked", "halving-doubling", "bcube", "allreduce-ring",
// "allreduce-bcube", "exchange", "direct".
absl::string_view AlgorithmName(AllreduceAlgorithm algorithm);
absl::StatusOr<AllreduceAlgorithm> ParseAlgorithm(absl::string_view name);
// gloo's classic AllreduceBcube only reduces correctly when the world size is a power of
// two (with other sizes it silently drops contributions); every other algorithm takes any.
bool AlgorithmSupportsWorldSize(AllreduceAlgorithm algorithm, int world_size);
// What AlgorithmSupportsWorldSize asks of the world size, for messages: "a power-of-two
// world size".
absl::string_view WorldSizeRequirement(AllreduceAlgorithm algorithm);
// Whether gloo itself implements the algorithm (the benchmark's raw-gloo references are these).
bool IsGlooAlgorithm(AllreduceAlgorithm algorithm);

class AlgorithmSelector {
 public:
  // One rule: messages of at least `min_bytes` use `algorithm`, on groups of at most
  // `max_world_size` ranks (0: any size). Of the rules that apply, the one with the largest
  // min_bytes wins; at equal min_bytes, one limited to small groups beats one that is not.
  struct Rule {
    uint64_t min_bytes;
    AllreduceAlgorithm algorithm;
    int max_world_size = 0;
  };

  // The measured default (see algorithm.cc for the numbers behind it).
  AlgorithmSelector();
  explicit AlgorithmSelector(std::vector<Rule> rules);

  // From the job spec's `allreduce:` section (common/collectives_config.h): a forced
  // algorithm for every size, the given size rules, or (auto, no rules) the measured default.
  // ParseAllreduceConfig has already refused bad YAML naming the file and line; a config built
  // in code that names an unknown algorithm, a rule of 'auto', or both a forced algorithm and
  // rules is INVALID_ARGUMENT naming the field.
  static absl::StatusOr<AlgorithmSelector> FromConfig(const AllreduceConfig& config);

  // The rule's algorithm for `bytes`, or allreduce-ring when that one cannot run on
  // `world_size` ranks.
  AllreduceAlgorithm Choose(uint64_t bytes, int world_size) const;
  const std::vector<Rule>& rules() const { return rules_; }

 private:
  // Sorted by min_bytes, rules for any world size first at equal min_bytes; the first is
  // {0, ..., any world size}.
  std::vector<Rule> rules_;
};

}  // namespace cosched::collectives
