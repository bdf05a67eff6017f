// File: common/logging.cc
#include "common/logging.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "spdlog/sinks/stdout_color_sinks.h"

namespace cosched {

absl::Status InitLogging(absl::string_view level, absl::string_view process_name) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  // from_str maps anything unknown to "off"; only accept that when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "log level '", level, "' is not one of trace, debug, info, warn, error, critical, off"));
  }
  // An unregistered logger, so calling this again (tests do) replaces rather than throws.
  auto logger = std::make_shared<spdlog::logger>(
      std::string(process_name), std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(parsed);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v");
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

}  // namespace cosched
