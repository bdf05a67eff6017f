#include "common/logging.h"

#include <gtest/gtest.h>

namespace cosched {
namespace {

TEST(LoggingTest, AcceptsKnownLevels) {
  EXPECT_TRUE(InitLogging("info", "test").ok());
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::info);
  EXPECT_TRUE(InitLogging("off", "test").ok());
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::off);
}

TEST(LoggingTest, RejectsUnknownLevelsByName) {
  const absl::Status status = InitLogging("loud", "test");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("'loud'"), std::string::npos);
}

}  // namespace
}  // namespace cosched
