// File: tests/support/scoped_dir.cc
#include "tests/support/scoped_dir.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace cosched::testing {

ScopedDir::ScopedDir(absl::string_view name)
    : path_(absl::StrCat(::testing::TempDir(), "/cosched_", ::getpid(), "_", name)) {
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

ScopedDir::~ScopedDir() {
  // Best effort: a failure to clean up must not hide the test's own result.
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace cosched::testing
