// File: collectives/testing/collective_group_conformance.h
// The behaviour every CollectiveGroup implementation owes its callers, as one parameterized
// GoogleTest suite: exact sums for every world size, broadcast and allgather, argument errors,
// rendezvous that times out or is cancelled, a stalled peer, Abort from another thread and a
// peer that leaves. The trainer and the deterministic simulation rely on exactly these, so a
// fake that passes them can stand in for gloo in control-plane tests.
//
// A test binary instantiates the suite with its implementations:
//   INSTANTIATE_TEST_SUITE_P(Gloo, CollectiveGroupConformanceTest,
//                            ::testing::Values(ConformanceBackend{"gloo", MakeGlooFactory}),
//                            ConformanceBackendName);
// and compiles collective_group_conformance.cc into itself (the TEST_P bodies live there).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "collectives/collective_group.h"

namespace cosched::collectives::testing {

// Forms groups of one implementation. Each test makes a fresh factory, so state such as a
// store or a fake network is private to the test.
class GroupFactory {
 public:
  virtual ~GroupFactory() = default;
  // `options` carries everything but the implementation's own plumbing (the store, the
  // network): the factory supplies that.
  virtual absl::StatusOr<std::unique_ptr<CollectiveGroup>> Create(GroupOptions options) = 0;
};

struct ConformanceBackend {
  std::string name;  // a C identifier: it names the instantiated tests
  std::function<std::unique_ptr<GroupFactory>()> make_factory;
};

std::string ConformanceBackendName(const ::testing::TestParamInfo<ConformanceBackend>& info);

class CollectiveGroupConformanceTest : public ::testing::TestWithParam<ConformanceBackend> {};

}  // namespace cosched::collectives::testing
