// File: tools/coschedctl/format.h
// How coschedctl shows values: protobuf messages as JSON (proto field names, every field
// present so scripts need no defaults), times in the local time zone, ages and durations
// short enough for a table cell.
#pragma once

#include <string>

#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace cosched::coschedctl {

// The message in protobuf's canonical JSON mapping with the .proto field names (job_id,
// not jobId) and default values printed (empty lists as []). int64 fields come out as
// strings, as the mapping says. Keys keep the .proto order.
nlohmann::ordered_json ProtoToJson(const google::protobuf::Message& message);

// Prints one JSON document (pretty, two spaces) and a newline to stdout.
void PrintJson(const nlohmann::ordered_json& document);

// "2024-05-01 14:03:07.250" in the local time zone; "-" for 0 (never set).
std::string LocalTime(double unix_seconds);
// "850ms", "42s", "7m", "3h", "2d": how long ago, for table cells.
std::string Age(double seconds);
// "0.42ms", "12.3ms", "1.50s": short durations such as inference queue and compute times.
std::string ShortDuration(double seconds);
// "85.8%"; "-" for a negative accuracy (not measured).
std::string Accuracy(double accuracy);
// Seconds from `unix_seconds` to now.
double SecondsSince(double unix_seconds);

}  // namespace cosched::coschedctl
