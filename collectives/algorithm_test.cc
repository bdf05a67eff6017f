#include "collectives/algorithm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched::collectives {
namespace {

using ::testing::HasSubstr;

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

TEST(AlgorithmSelectorTest, ReadsRulesAndOverridesFromConfig) {
  auto doc = ConfigNode::LoadString(R"(allreduce:
  rules:
    - {min_bytes: 0, algorithm: ring}
    - {min_bytes: 64KiB, algorithm: bcube}
)",
                                    "c.yaml");
  ASSERT_TRUE(doc.ok());
  auto selector = AlgorithmSelector::FromConfig(*doc->Map("allreduce"));
  ASSERT_TRUE(selector.ok()) << selector.status();
  EXPECT_EQ(selector->Choose(100, 2), AllreduceAlgorithm::kRing);
  EXPECT_EQ(selector->Choose(65536, 2), AllreduceAlgorithm::kBcube);

  auto forced_doc = ConfigNode::LoadString("allreduce:\n  algorithm: ring-chunked\n", "f.yaml");
  auto forced = AlgorithmSelector::FromConfig(*forced_doc->Map("allreduce"));
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(forced->Choose(1 << 30, 8), AllreduceAlgorithm::kRingChunked);
}

TEST(AlgorithmSelectorTest, BadConfigNamesTheField) {
  auto doc = ConfigNode::LoadString(R"(allreduce:
  rules:
    - {min_bytes: 0, algorithm: ring}
    - {min_bytes: lots, algorithm: bcube}
)",
                                    "bad.yaml");
  auto selector = AlgorithmSelector::FromConfig(*doc->Map("allreduce"));
  EXPECT_THAT(selector.status().message(),
              HasSubstr("bad.yaml:4: field 'allreduce.rules[1].min_bytes'"));

  auto unknown = ConfigNode::LoadString("allreduce:\n  algorithm: warp\n", "u.yaml");
  EXPECT_THAT(AlgorithmSelector::FromConfig(*unknown->Map("allreduce")).status().message(),
              HasSubstr("u.yaml:2: field 'allreduce.algorithm': unknown allreduce algorithm"));
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
