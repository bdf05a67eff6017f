// File: collectives/direct_test_support.h
// What the tests of the direct algorithms (direct_ring_test.cc, direct_algorithm_test.cc)
// share: every party on a thread of its own, and each party's data.
#pragma once

#include <functional>
#include <future>
#include <vector>

#include "absl/status/status.h"

namespace cosched::collectives::testing_support {

// Runs `run(p)` for every party on a thread of its own; the statuses in party order.
inline std::vector<absl::Status> OnEveryParty(int parties,
                                              const std::function<absl::Status(int)>& run) {
  std::vector<std::future<absl::Status>> running;
  for (int p = 0; p < parties; ++p) running.push_back(std::async(std::launch::async, run, p));
  std::vector<absl::Status> statuses;
  for (auto& party : running) statuses.push_back(party.get());
  return statuses;
}

// Values whose sums are inexact, different on each party.
inline std::vector<float> PartyData(int party, size_t n, int round) {
  std::vector<float> data(n);
  for (size_t i = 0; i < n; ++i) {
    data[i] = 1.0f / static_cast<float>(party * 7 + static_cast<int>(i % 23) + round + 3);
  }
  return data;
}

}  // namespace cosched::collectives::testing_support
