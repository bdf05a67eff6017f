// File: bench/allreduce_impls.cc
#include "bench/allreduce_impls.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cosched::bench {

using collectives::AllreduceAlgorithm;

std::vector<Impl> AvailableImpls(int ranks, int hosts) {
  std::vector<Impl> impls = {{"cosched", Launch::kGlooRanks, false, AllreduceAlgorithm::kAuto}};
  for (AllreduceAlgorithm algorithm : collectives::AllAlgorithms()) {
    if (!collectives::AlgorithmSupportsWorldSize(algorithm, ranks)) continue;
    impls.push_back({absl::StrCat("cosched-", collectives::AlgorithmName(algorithm)),
                     Launch::kGlooRanks, false, algorithm});
  }
  for (AllreduceAlgorithm algorithm : collectives::AllAlgorithms()) {
    if (!collectives::AlgorithmSupportsWorldSize(algorithm, ranks)) continue;
    if (!collectives::IsGlooAlgorithm(algorithm)) continue;  // cosched's own: no raw reference
    impls.push_back({absl::StrCat("gloo-", collectives::AlgorithmName(algorithm)),
                     Launch::kGlooRanks, true, algorithm});
  }
  impls.push_back({hosts > 1 ? "mpi-shm+tcp" : "mpi-shm", Launch::kMpiShm});
  impls.push_back({"mpi-tcp", Launch::kMpiTcp});
  return impls;
}

absl::StatusOr<std::vector<Impl>> SelectImpls(const std::vector<std::string>& names, int ranks,
                                              int hosts) {
  std::vector<Impl> available = AvailableImpls(ranks, hosts);
  if (names.empty()) return available;
  std::vector<Impl> selected;
  for (const Impl& impl : available) {
    if (std::find(names.begin(), names.end(), impl.name) != names.end()) {
      selected.push_back(impl);
    }
  }
  for (const std::string& name : names) {
    if (FindImpl(name, ranks, hosts).ok()) continue;
    std::vector<std::string> known;
    for (const Impl& impl : available) known.push_back(impl.name);
    return absl::InvalidArgumentError(
        absl::StrCat("--impls: '", name, "' is not an implementation available with ", ranks,
                     " ranks", hosts > 1 ? absl::StrCat(" on ", hosts, " hosts") : "",
                     " (available: ", absl::StrJoin(known, ", "), ")"));
  }
  return selected;
}

absl::StatusOr<Impl> FindImpl(const std::string& name, int ranks, int hosts) {
  for (const Impl& impl : AvailableImpls(ranks, hosts)) {
    if (impl.name == name) return impl;
  }
  return absl::NotFoundError(absl::StrCat("no allreduce implementation '", name, "'"));
}

}  // namespace cosched::bench
