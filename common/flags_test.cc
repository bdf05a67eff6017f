#include "common/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

namespace cosched {
namespace {

using ::testing::HasSubstr;

struct Parsed {
  std::string name = "default";
  int64_t count = 1;
  absl::Duration timeout = absl::Seconds(30);
  bool verbose = false;
};

absl::Status ParseArgs(std::vector<std::string> args, Parsed& out, FlagParser* keep = nullptr) {
  FlagParser local("prog");
  FlagParser& flags = keep != nullptr ? *keep : local;
  flags.String("name", &out.name, "a name");
  flags.Int("count", &out.count, "a count");
  flags.Duration("timeout", &out.timeout, "a timeout");
  flags.Bool("verbose", &out.verbose, "talk more");
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return flags.Parse(static_cast<int>(argv.size()), argv.data());
}

TEST(FlagsTest, ParsesBothSpellingsAndKeepsDefaults) {
  Parsed p;
  FlagParser flags("prog");
  ASSERT_TRUE(ParseArgs({"--name", "x", "--count=4", "--verbose", "rest"}, p, &flags).ok());
  EXPECT_EQ(p.name, "x");
  EXPECT_EQ(p.count, 4);
  EXPECT_TRUE(p.verbose);
  EXPECT_EQ(p.timeout, absl::Seconds(30));
  EXPECT_EQ(flags.positional(), std::vector<std::string>{"rest"});
}

TEST(FlagsTest, ErrorsNameTheFlag) {
  Parsed p;
  EXPECT_THAT(ParseArgs({"--count", "many"}, p).message(),
              HasSubstr("--count: 'many' is not an integer"));
  EXPECT_THAT(ParseArgs({"--colour", "red"}, p).message(), HasSubstr("unknown flag --colour"));
  EXPECT_THAT(ParseArgs({"--name"}, p).message(), HasSubstr("--name needs a value"));
  EXPECT_THAT(ParseArgs({"--timeout=soon"}, p).message(), HasSubstr("--timeout"));
}

TEST(FlagsTest, EnvironmentFillsFlagsTheCommandLineLeavesOut) {
  EXPECT_EQ(FlagParser::EnvName("metrics-address"), "COSCHED_METRICS_ADDRESS");
  ::setenv("COSCHED_COUNT", "9", 1);
  ::setenv("COSCHED_NAME", "from-env", 1);
  Parsed p;
  ASSERT_TRUE(ParseArgs({"--name", "from-flag"}, p).ok());
  EXPECT_EQ(p.count, 9);
  EXPECT_EQ(p.name, "from-flag");
  ::setenv("COSCHED_COUNT", "nine", 1);
  EXPECT_THAT(ParseArgs({}, p).message(), HasSubstr("environment COSCHED_COUNT"));
  ::unsetenv("COSCHED_COUNT");
  ::unsetenv("COSCHED_NAME");
}

TEST(FlagsTest, ShortNamesStandForLongFlags) {
  std::string output;
  FlagParser flags("prog");
  flags.String("output", &output, "format");
  flags.Short('o', "output");
  ASSERT_TRUE(flags.Parse(std::vector<std::string>{"get", "-o", "json"}).ok());
  EXPECT_EQ(output, "json");
  EXPECT_EQ(flags.positional(), std::vector<std::string>{"get"});
  EXPECT_THAT(flags.Usage(), HasSubstr("--output (-o)"));
  FlagParser other("prog");
  EXPECT_THAT(other.Parse(std::vector<std::string>{"-x"}).message(), HasSubstr("unknown flag -x"));
}

TEST(FlagsTest, StringListsRepeatAndSplitOnCommasReplacingTheDefault) {
  std::vector<std::string> hosts = {"localhost", "127.0.0.1"};
  FlagParser flags("prog");
  flags.StringList("host", &hosts, "hosts");
  EXPECT_THAT(flags.Usage(), HasSubstr("(default: localhost,127.0.0.1;"));
  ASSERT_TRUE(flags.Parse(std::vector<std::string>{"--host", "a,b", "--host=c"}).ok());
  EXPECT_EQ(hosts, (std::vector<std::string>{"a", "b", "c"}));

  std::vector<std::string> untouched = {"d"};
  FlagParser none("prog");
  none.StringList("host", &untouched, "hosts");
  ASSERT_TRUE(none.Parse(std::vector<std::string>{}).ok());
  EXPECT_EQ(untouched, std::vector<std::string>{"d"});
}

TEST(FlagsTest, OnlyBoolFlagsGoWithoutAValue) {
  FlagParser parser("test");
  std::string name;
  bool force = false;
  parser.String("name", &name, "");
  parser.Bool("force", &force, "");
  EXPECT_TRUE(parser.TakesValue("name"));
  EXPECT_FALSE(parser.TakesValue("force"));
  EXPECT_TRUE(parser.TakesValue("unknown"));  // Parse refuses it; its value is no word
}

}  // namespace
}  // namespace cosched
