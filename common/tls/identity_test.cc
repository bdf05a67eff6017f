#include "common/tls/identity.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cosched::tls {
namespace {

using ::testing::HasSubstr;

TEST(IdentityTest, UrisRoundTrip) {
  const std::vector<Identity> identities = {
      SchedulerIdentity(),
      NodeIdentity("datacenter", "dc-1"),
      NodeIdentity("vehicle", "car_7.b"),
      ClientIdentity(Role::kRead, "viewer"),
      ClientIdentity(Role::kSubmit, "alice"),
      ClientIdentity(Role::kAdmin, "ops-bot"),
  };
  for (const Identity& identity : identities) {
    const std::string uri = IdentityUri(identity);
    absl::StatusOr<Identity> parsed = ParseIdentityUri(uri);
    ASSERT_TRUE(parsed.ok()) << uri << ": " << parsed.status();
    EXPECT_EQ(*parsed, identity) << uri;
  }
  EXPECT_EQ(IdentityUri(SchedulerIdentity()), "cosched://scheduler");
  EXPECT_EQ(IdentityUri(NodeIdentity("vehicle", "car-1")), "cosched://node/vehicle/car-1");
  EXPECT_EQ(IdentityUri(ClientIdentity(Role::kSubmit, "alice")), "cosched://client/submit/alice");
}

TEST(IdentityTest, BadUrisAreRefusedNamingWhatIsWrong) {
  EXPECT_THAT(ParseIdentityUri("https://scheduler").status().message(),
              HasSubstr("is not a cosched:// URI"));
  EXPECT_THAT(ParseIdentityUri("cosched://node/boat/b1").status().message(),
              HasSubstr("node kind 'boat' is neither datacenter nor vehicle"));
  EXPECT_THAT(ParseIdentityUri("cosched://client/root/alice").status().message(),
              HasSubstr("role 'root' is none of read, submit, admin"));
  EXPECT_THAT(ParseIdentityUri("cosched://client/read/al ice").status().message(),
              HasSubstr("client name 'al ice' may hold only"));
  EXPECT_THAT(ParseIdentityUri("cosched://node/vehicle/").status().message(),
              HasSubstr("node id must have 1 to 128 characters"));
  EXPECT_THAT(
      ParseIdentityUri("cosched://node/vehicle/" + std::string(129, 'a')).status().message(),
      HasSubstr("1 to 128 characters"));
  EXPECT_THAT(ParseIdentityUri("cosched://worker/x").status().message(),
              HasSubstr("is none of cosched://scheduler"));
}

TEST(IdentityTest, OneCoschedIdentityAmongTheUris) {
  absl::StatusOr<Identity> found =
      IdentityFromUris({"spiffe://example.org/x", "cosched://node/vehicle/car-1"});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, NodeIdentity("vehicle", "car-1"));
  EXPECT_THAT(IdentityFromUris({"spiffe://example.org/x"}).status().message(),
              HasSubstr("no cosched:// identity"));
  EXPECT_THAT(
      IdentityFromUris({"cosched://scheduler", "cosched://client/read/a"}).status().message(),
      HasSubstr("two cosched identities"));
}

TEST(IdentityTest, RolesParseAndDescribe) {
  for (Role role : {Role::kRead, Role::kSubmit, Role::kAdmin}) {
    absl::StatusOr<Role> parsed = ParseRole(RoleName(role));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, role);
  }
  EXPECT_FALSE(ParseRole("Admin").ok());
  EXPECT_EQ(Describe(NodeIdentity("vehicle", "car-1")), "node car-1 (vehicle)");
  EXPECT_EQ(Describe(ClientIdentity(Role::kSubmit, "alice")), "client alice (submit)");
  EXPECT_EQ(Describe(Identity{}), "an unauthenticated peer");
}

}  // namespace
}  // namespace cosched::tls
