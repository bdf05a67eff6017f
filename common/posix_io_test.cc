// File: common/posix_io_test.cc
#include "common/posix_io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/scoped_dir.h"

namespace cosched {
namespace {

using ::cosched::testing::ScopedDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

mode_t Mode(const std::string& path) {
  struct stat info {};
  ::stat(path.c_str(), &info);
  return info.st_mode & 07777;
}

TEST(WriteFileAtomicallyTest, ReplacesTheFileWithTheModeAndLeavesNoTemporary) {
  ScopedDir dir("write_atomically");
  const std::string path = absl::StrCat(dir.path(), "/f");
  ASSERT_TRUE(WriteFileAtomically(path, "one", 0600).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two", 0640).ok());
  EXPECT_EQ(Mode(path), 0640u);
  std::FILE* file = std::fopen(path.c_str(), "r");
  ASSERT_NE(file, nullptr);
  char text[8] = {};
  EXPECT_EQ(std::fread(text, 1, sizeof(text), file), 3u);
  std::fclose(file);
  EXPECT_STREQ(text, "two");
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(names, ElementsAre("f"));
  EXPECT_THAT(WriteFileAtomically(absl::StrCat(dir.path(), "/no/such/dir/f"), "x", 0600).message(),
              HasSubstr("cannot create a temporary file for"));
}

}  // namespace
}  // namespace cosched
