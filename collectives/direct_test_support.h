// File: collectives/direct_test_support.h
// What the tests of the direct algorithms (direct_ring_test.cc, direct_algorithm_test.cc)
// share: every party on a thread of its own, each party's data, and the check that every
// party gets the sum.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "collectives/direct_algorithm.h"

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

// Sums vectors of each of `sizes` floats on every party of `all` (twice: a second pass reuses
// the links and buffers) and checks that each party gets the sum, with party 0's bits.
inline void ExpectEveryPartyGetsTheSumWithTheSameBits(const std::vector<LinkedAllreduce*>& all,
                                                      const std::vector<size_t>& sizes,
                                                      absl::Duration timeout) {
  const int parties = static_cast<int>(all.size());
  for (int round = 0; round < 2; ++round) {
    for (size_t n : sizes) {
      SCOPED_TRACE("floats " + std::to_string(n) + ", round " + std::to_string(round));
      std::vector<std::vector<float>> data;
      std::vector<double> exact(n, 0.0);
      for (int p = 0; p < parties; ++p) {
        data.push_back(PartyData(p, n, round));
        for (size_t i = 0; i < n; ++i) exact[i] += data.back()[i];
      }
      for (const absl::Status& status : OnEveryParty(
               parties, [&](int p) { return all[p]->Run(absl::MakeSpan(data[p]), timeout); })) {
        ASSERT_TRUE(status.ok()) << status;
      }
      for (size_t i = 0; i < n; ++i) {
        ASSERT_NEAR(data[0][i], exact[i], 1e-5 * exact[i]) << "float " << i;
      }
      for (int p = 1; p < parties; ++p) {
        ASSERT_EQ(std::memcmp(data[p].data(), data[0].data(), n * sizeof(float)), 0)
            << "party " << p << " differs from party 0";
      }
    }
  }
}

}  // namespace cosched::collectives::testing_support
