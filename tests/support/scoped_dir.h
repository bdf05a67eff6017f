// File: tests/support/scoped_dir.h
// ScopedDir: a fresh directory for one test, removed when the test ends, passed or not.
// Process tests give it to the programs they start (data directories, work directories,
// configuration files), so one run's state never leaks into the next.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace cosched::testing {

class ScopedDir {
 public:
  // Creates <gtest TempDir>/cosched_<pid>_<name>, emptied first. The pid keeps concurrent
  // runs (ctest -j runs each test case as its own process) apart.
  explicit ScopedDir(absl::string_view name);
  ~ScopedDir();
  ScopedDir(const ScopedDir&) = delete;
  ScopedDir& operator=(const ScopedDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  const std::string path_;
};

}  // namespace cosched::testing
