// File: common/logging.h
// Logging goes through spdlog to stderr (stdout is kept for tables and JSON lines that
// scripts read). Call InitLogging once from main(); library code just uses spdlog::info etc.
#pragma once

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

namespace cosched {

// Sets up stderr logging at `level` (trace, debug, info, warn, error, critical, off).
// `process_name` goes in every line so interleaved output from several ranks stays readable.
absl::Status InitLogging(absl::string_view level, absl::string_view process_name);

}  // namespace cosched

// COSCHED_CHECK(condition, "format {}", args...): for invariants of our own code only;
// never for config, peer input or user requests (those return a Status).
#define COSCHED_CHECK(condition, ...)                                                 \
  do {                                                                                \
    if (!(condition)) {                                                               \
      spdlog::critical("{}:{}: check failed: {}: {}", __FILE__, __LINE__, #condition, \
                       fmt::format(__VA_ARGS__));                                     \
      std::abort();                                                                   \
    }                                                                                 \
  } while (false)
