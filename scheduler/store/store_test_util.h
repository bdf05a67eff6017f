// File: scheduler/store/store_test_util.h
// Helpers for the state store's tests: status assertions (Debian's Abseil has no status
// matchers) and a fresh per-test scratch directory.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

#define STORE_TEST_CONCAT_INNER_(a, b) a##b
#define STORE_TEST_CONCAT_(a, b) STORE_TEST_CONCAT_INNER_(a, b)

#define ASSERT_OK(expr)                    \
  do {                                     \
    const ::absl::Status status_ = (expr); \
    ASSERT_TRUE(status_.ok()) << status_;  \
  } while (false)

// ASSERT_OK_AND_ASSIGN(lhs, expr): fails the test on an error status, else moves the value.
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(STORE_TEST_CONCAT_(statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  ASSERT_TRUE(statusor.ok()) << statusor.status();      \
  lhs = std::move(statusor).value()

namespace cosched::scheduler {

// An empty directory path unique to the running test (it does not exist yet).
inline std::string FreshTestDirectory() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string name =
      absl::StrReplaceAll(absl::StrCat(info->test_suite_name(), "_", info->name()), {{"/", "_"}});
  const std::string directory = absl::StrCat(::testing::TempDir(), "/cosched_store_", name);
  std::filesystem::remove_all(directory);
  return directory;
}

}  // namespace cosched::scheduler
