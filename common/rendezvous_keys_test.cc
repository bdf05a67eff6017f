// File: common/rendezvous_keys_test.cc
// The shared rendezvous key rules: generation prefixes, which keys are acceptable (and the
// error naming a bad one), and short key lists in messages.
#include "common/rendezvous_keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cosched {
namespace {

using ::testing::HasSubstr;

TEST(RendezvousKeysTest, GenerationPrefixIsJobThenGeneration) {
  EXPECT_EQ(GenerationPrefix("j-1", 7), "job/j-1/gen/7/");
  EXPECT_EQ(GenerationPrefix("j", 0), "job/j/gen/0/");
}

TEST(RendezvousKeysTest, KeysArePrintableAscii) {
  EXPECT_TRUE(CheckKeyText("job/j/gen/1/rank_0").ok());
  EXPECT_TRUE(CheckKeyText(" ~").ok());
  EXPECT_EQ(CheckKeyText("").message(), "rendezvous key is empty");
  EXPECT_EQ(CheckKeyText("", "prefix").message(), "rendezvous prefix is empty");
  const absl::Status tab = CheckKeyText("a\tb");
  EXPECT_EQ(tab.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(tab.message(), HasSubstr("rendezvous key 'a\\tb' has byte 0x09 at offset 1"));
  EXPECT_THAT(CheckKeyText(std::string("x\x80", 2)).message(), HasSubstr("byte 0x80"));
}

TEST(RendezvousKeysTest, LongKeysAreQuotedShort) {
  EXPECT_EQ(QuotedKey("a\nb"), "'a\\nb'");
  const std::string quoted = QuotedKey(std::string(200, 'k'));
  EXPECT_EQ(quoted, "'" + std::string(80, 'k') + "...'");
}

TEST(RendezvousKeysTest, KeyListNamesAFewAndCountsTheRest) {
  EXPECT_EQ(KeyList({}), "");
  EXPECT_EQ(KeyList({"a", "b"}), "a, b");
  std::vector<std::string> many;
  for (int i = 0; i < 20; ++i) many.push_back("k" + std::to_string(i));
  EXPECT_EQ(KeyList(many), "k0, k1, k2, k3, k4, k5, k6, k7 (and 12 more)");
  EXPECT_EQ(MissingKeysMessage({"a", "b"}, absl::Milliseconds(1500)),
            "rendezvous keys still missing after 1.5s: a, b");
}

}  // namespace
}  // namespace cosched
