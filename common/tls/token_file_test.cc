#include "common/tls/token_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cctype>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/support/scoped_dir.h"

namespace cosched::tls {
namespace {

using ::cosched::testing::ScopedDir;
using ::testing::HasSubstr;

std::string Entry(absl::string_view name, absl::string_view role, absl::string_view sha256) {
  return absl::StrCat("  - name: ", name, "\n    role: ", role, "\n    sha256: ", sha256, "\n");
}

TEST(TokenFileTest, TokensAreRandomHexAndDigestsAreSha256) {
  const std::string a = NewToken();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, NewToken());
  // The SHA-256 test vector of "abc" (FIPS 180-2).
  EXPECT_EQ(TokenDigest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(TokenFileTest, FindsATokenWithItsRoleAndNotAWrongOne) {
  const std::string alice = NewToken();
  const std::string bob = NewToken();
  absl::StatusOr<TokenTable> table =
      TokenTable::Parse(absl::StrCat("tokens:\n", Entry("alice", "submit", TokenDigest(alice)),
                                     Entry("bob", "admin", TokenDigest(bob))),
                        "tokens.yaml");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  EXPECT_EQ(table->Find(alice), ClientIdentity(Role::kSubmit, "alice"));
  EXPECT_EQ(table->Find(bob), ClientIdentity(Role::kAdmin, "bob"));
  EXPECT_EQ(table->Find(NewToken()), std::nullopt);
  EXPECT_EQ(table->Find(""), std::nullopt);
  EXPECT_EQ(table->Find(TokenDigest(alice)), std::nullopt);  // the digest is not the token
}

TEST(TokenFileTest, UpperCaseDigestsAndEmptyFilesAreAccepted) {
  std::string digest = TokenDigest("t");
  for (char& c : digest) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  absl::StatusOr<TokenTable> table =
      TokenTable::Parse(absl::StrCat("tokens:\n", Entry("c", "read", digest)), "t.yaml");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->Find("t"), ClientIdentity(Role::kRead, "c"));
  absl::StatusOr<TokenTable> empty = TokenTable::Parse("", "empty.yaml");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->size(), 0u);
}

TEST(TokenFileTest, MalformedFilesAreRefusedNamingTheEntryAndField) {
  const std::string good = TokenDigest("x");
  auto error = [](const std::string& yaml) {
    return std::string(TokenTable::Parse(yaml, "tokens.yaml").status().message());
  };
  EXPECT_THAT(
      error(absl::StrCat("tokens:\n", Entry("a", "read", good), Entry("b", "read", "abc123"))),
      HasSubstr("tokens.yaml:7: field 'tokens[1].sha256': must be 64 hex characters"));
  EXPECT_THAT(error(absl::StrCat("tokens:\n", Entry("a", "root", good))),
              HasSubstr("field 'tokens[0].role': role 'root' is none of read, submit, admin"));
  EXPECT_THAT(error(absl::StrCat("tokens:\n", Entry("a b", "read", good))),
              HasSubstr("field 'tokens[0].name': the name 'a b' may hold only"));
  EXPECT_THAT(error(absl::StrCat("tokens:\n", Entry("a", "read", std::string(64, 'g')))),
              HasSubstr("field 'tokens[0].sha256'"));
  EXPECT_THAT(error("tokens:\n  - name: a\n    role: read\n"),
              HasSubstr("field 'tokens[0].sha256': missing"));
  EXPECT_THAT(error("tokens:\n  - role: read\n    sha256: x\n"),
              HasSubstr("field 'tokens[0].name': missing"));
  EXPECT_THAT(error(absl::StrCat("tokens:\n", Entry("a", "read", good), "    password: hunter2\n")),
              HasSubstr("field 'tokens[0].password': unknown field"));
  EXPECT_THAT(error(absl::StrCat("tokens:\n", Entry("a", "read", good),
                                 Entry("a", "admin", TokenDigest("y")))),
              HasSubstr("field 'tokens[1].name': 'a' is already entry 0"));
  EXPECT_THAT(error(absl::StrCat("tokens:\n", Entry("a", "read", good), Entry("b", "read", good))),
              HasSubstr("field 'tokens[1].sha256': the same token as entry 0 ('a')"));
  EXPECT_THAT(error("tokens: [a, b]\n"), HasSubstr("field 'tokens[0]': expected a mapping"));
  EXPECT_THAT(error("tokens:\n  - name: [a\n"), HasSubstr("tokens.yaml:"));
  EXPECT_THAT(error("tokenz: []\n"), HasSubstr("field 'tokenz': unknown field"));
}

TEST(TokenFileTest, AppendCreatesThePrivateFileAndRefusesANameTwice) {
  ScopedDir dir("token_file");
  const std::string path = absl::StrCat(dir.path(), "/tokens.yaml");
  const std::string alice = NewToken();
  const std::string bob = NewToken();
  ASSERT_TRUE(AppendToken(path, "alice", Role::kSubmit, alice).ok());
  ASSERT_TRUE(AppendToken(path, "bob", Role::kRead, bob).ok());
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);

  absl::StatusOr<TokenTable> table = TokenTable::Load(path);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 2u);
  EXPECT_EQ(table->Find(alice), ClientIdentity(Role::kSubmit, "alice"));
  EXPECT_EQ(table->Find(bob), ClientIdentity(Role::kRead, "bob"));

  EXPECT_THAT(AppendToken(path, "alice", Role::kAdmin, NewToken()).message(),
              HasSubstr("already has a token named 'alice'"));
  EXPECT_THAT(AppendToken(path, "carol", Role::kAdmin, alice).message(),
              HasSubstr("already has this token, named 'alice'"));
  EXPECT_THAT(AppendToken(path, "no/slash", Role::kAdmin, NewToken()).message(),
              HasSubstr("may hold only"));
  EXPECT_EQ(TokenTable::Load(path)->size(), 2u);
  EXPECT_EQ(TokenTable::Load(absl::StrCat(dir.path(), "/none.yaml")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(TokenFileTest, NamesThatLookLikeOtherYamlTypesStayNames) {
  ScopedDir dir("token_file_names");
  const std::string path = absl::StrCat(dir.path(), "/tokens.yaml");
  const std::string token = NewToken();
  ASSERT_TRUE(AppendToken(path, "true", Role::kRead, token).ok());
  ASSERT_TRUE(AppendToken(path, "1e3", Role::kRead, NewToken()).ok());
  ASSERT_TRUE(AppendToken(path, "-", Role::kRead, NewToken()).ok());
  absl::StatusOr<TokenTable> table = TokenTable::Load(path);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->Find(token), ClientIdentity(Role::kRead, "true"));
  EXPECT_EQ(table->entries()[2].name, "-");
}

}  // namespace
}  // namespace cosched::tls
