#include "collectives/algorithm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/collectives_config.h"
#include "common/config.h"

namespace cosched::collectives {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

TEST(AlgorithmTest, NamesRoundTrip) {
  for (AllreduceAlgorithm a : AllAlgorithms()) {
    auto parsed = ParseAlgorithm(AlgorithmName(a));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, a);
  }
  EXPECT_EQ(*ParseAlgorithm("auto"), AllreduceAlgorithm::kAuto);
  EXPECT_THAT(ParseAlgorithm("fastest").status().message(),
              HasSubstr("unknown allreduce algorithm 'fastest'"));
}

// The job spec (common/) checks names without knowing collectives; both lists must agree.
TEST(AlgorithmTest, JobSpecNamesAreExactlyTheBuiltAlgorithms) {
  std::vector<std::string> built = {"auto"};
  for (AllreduceAlgorithm a : AllAlgorithms()) built.emplace_back(AlgorithmName(a));
  EXPECT_THAT(AllreduceAlgorithmNames(), UnorderedElementsAreArray(built));
}

TEST(AlgorithmSelectorTest, LargestMatchingRuleWins) {
  AlgorithmSelector selector({{1024, AllreduceAlgorithm::kRing},
                              {0, AllreduceAlgorithm::kHalvingDoubling},
                              {1 << 20, AllreduceAlgorithm::kAllreduceBcube}});
  EXPECT_EQ(selector.Choose(0, 2), AllreduceAlgorithm::kHalvingDoubling);
  EXPECT_EQ(selector.Choose(1023, 2), AllreduceAlgorithm::kHalvingDoubling);
  EXPECT_EQ(selector.Choose(1024, 2), AllreduceAlgorithm::kRing);
  EXPECT_EQ(selector.Choose(64 << 20, 2), AllreduceAlgorithm::kAllreduceBcube);
}

TEST(AlgorithmSelectorTest, DefaultCoversEverySize) {
  AlgorithmSelector selector;
  ASSERT_FALSE(selector.rules().empty());
  EXPECT_EQ(selector.rules().front().min_bytes, 0u);
  for (uint64_t bytes : {0ull, 4096ull, 1ull << 26}) {
    EXPECT_NE(selector.Choose(bytes, 2), AllreduceAlgorithm::kAuto);
  }
}

TEST(AlgorithmSelectorTest, DefaultUsesTheDirectAlgorithmForEverySizeAndWorld) {
  AlgorithmSelector selector;
  for (uint64_t bytes : {0ull, 4096ull, 1ull << 20, 1ull << 26}) {
    for (int world : {2, 3, 8}) {
      EXPECT_EQ(selector.Choose(bytes, world), AllreduceAlgorithm::kDirect)
          << bytes << " " << world;
    }
  }
}

TEST(AlgorithmSelectorTest, RulesForSmallGroupsWinOnlyWhereTheyApply) {
  // Given out of order: the selector sorts them.
  AlgorithmSelector selector({{1 << 20, AllreduceAlgorithm::kBcube, 4},
                              {0, AllreduceAlgorithm::kRing, 2},
                              {0, AllreduceAlgorithm::kHalvingDoubling},
                              {1 << 20, AllreduceAlgorithm::kRingChunked}});
  EXPECT_EQ(selector.Choose(100, 2), AllreduceAlgorithm::kRing);
  EXPECT_EQ(selector.Choose(100, 3), AllreduceAlgorithm::kHalvingDoubling);
  EXPECT_EQ(selector.Choose(1 << 20, 2), AllreduceAlgorithm::kBcube);
  EXPECT_EQ(selector.Choose(1 << 20, 4), AllreduceAlgorithm::kBcube);
  EXPECT_EQ(selector.Choose(1 << 20, 5), AllreduceAlgorithm::kRingChunked);
  // bcube cannot run on 3 ranks: allreduce-ring instead.
  EXPECT_EQ(selector.Choose(1 << 20, 3), AllreduceAlgorithm::kAllreduceRing);
  // Only small-group rules at 0: a rule for any size is added in front.
  AlgorithmSelector only_small({{0, AllreduceAlgorithm::kRing, 2}});
  EXPECT_EQ(only_small.Choose(100, 2), AllreduceAlgorithm::kRing);
  EXPECT_EQ(only_small.Choose(100, 3), AllreduceAlgorithm::kAllreduceRing);
}

TEST(AlgorithmSelectorTest, ReadsRulesAndOverridesFromConfig) {
  auto doc = ConfigNode::LoadString(R"(allreduce:
  rules:
    - {min_bytes: 0, algorithm: ring}
    - {min_bytes: 64KiB, algorithm: bcube}
)",
                                    "c.yaml");
  ASSERT_TRUE(doc.ok());
  auto config = ParseAllreduceConfig(*doc->Map("allreduce"));
  ASSERT_TRUE(config.ok()) << config.status();
  auto selector = AlgorithmSelector::FromConfig(*config);
  ASSERT_TRUE(selector.ok()) << selector.status();
  EXPECT_EQ(selector->Choose(100, 2), AllreduceAlgorithm::kRing);
  EXPECT_EQ(selector->Choose(65536, 2), AllreduceAlgorithm::kBcube);

  auto forced_doc = ConfigNode::LoadString("allreduce:\n  algorithm: ring-chunked\n", "f.yaml");
  auto forced_config = ParseAllreduceConfig(*forced_doc->Map("allreduce"));
  ASSERT_TRUE(forced_config.ok()) << forced_config.status();
  auto forced = AlgorithmSelector::FromConfig(*forced_config);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->Choose(1 << 30, 8), AllreduceAlgorithm::kRingChunked);

  auto defaults = AlgorithmSelector::FromConfig(AllreduceConfig{});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->rules().size(), AlgorithmSelector().rules().size());
}

// YAML errors are the parser's (common/collectives_config_test.cc); a config built in code
// gets the same checks here.
TEST(AlgorithmSelectorTest, BadConfigBuiltInCodeNamesTheField) {
  AllreduceConfig unknown;
  unknown.algorithm = "warp";
  EXPECT_THAT(AlgorithmSelector::FromConfig(unknown).status().message(),
              HasSubstr("field 'allreduce.algorithm': unknown allreduce algorithm 'warp'"));

  AllreduceConfig both;
  both.algorithm = "ring";
  both.rules = {{0, "bcube"}};
  EXPECT_THAT(AlgorithmSelector::FromConfig(both).status().message(),
              HasSubstr("give either a fixed 'algorithm' or 'rules', not both"));

  AllreduceConfig auto_rule;
  auto_rule.rules = {{0, "ring"}, {4096, "auto"}};
  EXPECT_THAT(AlgorithmSelector::FromConfig(auto_rule).status().message(),
              HasSubstr("field 'allreduce.rules[1].algorithm': a rule must name a concrete"));

  AllreduceConfig bad_rule;
  bad_rule.rules = {{0, "ring"}, {4096, "fast"}};
  const absl::Status status = AlgorithmSelector::FromConfig(bad_rule).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("field 'allreduce.rules[1].algorithm': unknown"));
}

}  // namespace
}  // namespace cosched::collectives

namespace cosched::collectives {
namespace {

TEST(AlgorithmSelectorTest, NeverChoosesBcubeForWorldsItCannotReduce) {
  AlgorithmSelector selector({{0, AllreduceAlgorithm::kBcube}});
  EXPECT_EQ(selector.Choose(4096, 4), AllreduceAlgorithm::kBcube);
  EXPECT_EQ(selector.Choose(4096, 3), AllreduceAlgorithm::kAllreduceRing);
  EXPECT_FALSE(AlgorithmSupportsWorldSize(AllreduceAlgorithm::kBcube, 6));
  EXPECT_TRUE(AlgorithmSupportsWorldSize(AllreduceAlgorithm::kAllreduceBcube, 6));
}

}  // namespace
}  // namespace cosched::collectives
