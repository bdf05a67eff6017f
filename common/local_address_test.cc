// File: common/local_address_test.cc
#include "common/local_address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cosched {
namespace {

using ::testing::HasSubstr;

TEST(HostOfAddressTest, SplitsHostFromPort) {
  EXPECT_EQ(HostOfAddress("198.18.0.2:7070"), "198.18.0.2");
  EXPECT_EQ(HostOfAddress("scheduler:7070"), "scheduler");
  EXPECT_EQ(HostOfAddress("[::1]:7070"), "::1");
  EXPECT_EQ(HostOfAddress("::1"), "::1");
  EXPECT_EQ(HostOfAddress("10.0.0.1"), "10.0.0.1");
}

TEST(LocalAddressTest, RouteToLoopbackLeavesFromLoopback) {
  absl::StatusOr<std::string> address = LocalAddressTowards("127.0.0.1:7070");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(*address, "127.0.0.1");
}

TEST(LocalAddressTest, UnresolvableDestinationIsAnError) {
  absl::StatusOr<std::string> address = LocalAddressTowards("no-such-host.invalid:7070");
  EXPECT_EQ(address.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(address.status().message(), HasSubstr("no-such-host.invalid"));
}

TEST(LocalAddressTest, LoopbackInterfaceHasItsAddress) {
  absl::StatusOr<std::string> address = InterfaceAddress("lo");
  ASSERT_TRUE(address.ok()) << address.status();
  EXPECT_EQ(*address, "127.0.0.1");
}

TEST(LocalAddressTest, UnknownInterfaceNamesTheOnesThatExist) {
  absl::StatusOr<std::string> address = InterfaceAddress("no-such-if0");
  EXPECT_EQ(address.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(address.status().message(), HasSubstr("no-such-if0"));
  EXPECT_THAT(address.status().message(), HasSubstr("lo"));
}

}  // namespace
}  // namespace cosched
