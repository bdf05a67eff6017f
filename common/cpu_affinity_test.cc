#include "common/cpu_affinity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

namespace cosched {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CpuAffinityTest, ParsesListsAndRanges) {
  EXPECT_THAT(*ParseCpuList("3"), ElementsAre(3));
  EXPECT_THAT(*ParseCpuList("4,0-2,1"), ElementsAre(0, 1, 2, 4));
}

TEST(CpuAffinityTest, BadListsNameTheBadPart) {
  EXPECT_THAT(ParseCpuList("0,x").status().message(), HasSubstr("'x' is not a CPU number"));
  EXPECT_THAT(ParseCpuList("").status().message(), HasSubstr("'' is not a CPU number"));
  EXPECT_THAT(ParseCpuList("-1").status().message(), HasSubstr("is not a CPU number"));
  EXPECT_THAT(ParseCpuList("3-1").status().message(), HasSubstr("range '3-1' runs backwards"));
}

TEST(CpuAffinityTest, BindsThisThreadAndTheThreadsItStarts) {
  // In a thread of its own, so the test binary's other threads keep their CPUs.
  std::thread([] {
    const std::vector<int> allowed = AllowedCpus();
    ASSERT_FALSE(allowed.empty());
    ASSERT_TRUE(BindToCpus({allowed.back()}).ok());
    EXPECT_THAT(AllowedCpus(), ElementsAre(allowed.back()));
    std::vector<int> seen_by_child;
    std::thread([&] { seen_by_child = AllowedCpus(); }).join();
    EXPECT_THAT(seen_by_child, ElementsAre(allowed.back()));
    // Narrowed to one CPU, every other is refused with a reason.
    const absl::Status refused = BindToCpus({allowed.back() + 1});
    EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(refused.message(), HasSubstr("is not one this process may use"));
  }).join();
}

}  // namespace
}  // namespace cosched
