// File: tools/coschedctl/format.cc
#include "tools/coschedctl/format.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace cosched::coschedctl {

nlohmann::ordered_json ProtoToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  // Printing our own well-formed messages cannot fail; an error would show as null.
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) return nullptr;
  return nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
}

void PrintJson(const nlohmann::ordered_json& document) {
  std::printf("%s\n", document.dump(2).c_str());
  std::fflush(stdout);
}

std::string LocalTime(double unix_seconds) {
  if (unix_seconds <= 0) return "-";
  const absl::Time time = absl::FromUnixMicros(static_cast<int64_t>(unix_seconds * 1e6));
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S", time, absl::LocalTimeZone());
}

std::string Age(double seconds) {
  if (seconds < 0) seconds = 0;  // clocks of two hosts disagree a little
  if (seconds < 1) return absl::StrFormat("%dms", static_cast<int>(seconds * 1e3));
  if (seconds < 120) return absl::StrFormat("%ds", static_cast<int>(seconds));
  if (seconds < 2 * 3600) return absl::StrFormat("%dm", static_cast<int>(seconds / 60));
  if (seconds < 2 * 86400) return absl::StrFormat("%dh", static_cast<int>(seconds / 3600));
  return absl::StrFormat("%dd", static_cast<int>(seconds / 86400));
}

std::string ShortDuration(double seconds) {
  const double ms = seconds * 1e3;
  if (ms < 10) return absl::StrFormat("%.2fms", ms);
  if (ms < 1000) return absl::StrFormat("%.1fms", ms);
  return absl::StrFormat("%.2fs", seconds);
}

std::string Accuracy(double accuracy) {
  return accuracy < 0 ? "-" : absl::StrFormat("%.1f%%", accuracy * 100);
}

double SecondsSince(double unix_seconds) {
  return absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()) - unix_seconds;
}

}  // namespace cosched::coschedctl
