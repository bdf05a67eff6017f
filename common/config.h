// File: common/config.h
// ConfigNode: typed, validated access to a YAML config file. Every error names the file, the
// line, the field (as a dotted path) and the reason, e.g.
//   configs/x.yaml:7: field 'collectives.timeout': 'soon' is not a duration (...)
// Absent optional fields take the caller's default; unknown fields are rejected so that a
// typo does not silently fall back to a default. yaml-cpp's exceptions stop in config.cc.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace YAML {
class Node;
}

namespace cosched {

class ConfigNode {
 public:
  static absl::StatusOr<ConfigNode> LoadFile(const std::string& path);
  // `source_name` stands in for the file name in error messages.
  static absl::StatusOr<ConfigNode> LoadString(absl::string_view text, std::string source_name);

  ConfigNode(const ConfigNode&);
  ConfigNode& operator=(const ConfigNode&);
  ~ConfigNode();

  bool Has(absl::string_view key) const;
  // No fields at all (an empty document, a mapping with nothing in it, or null).
  bool Empty() const;

  // Scalars: `fallback` when the key is absent; an error when present but malformed.
  absl::StatusOr<std::string> String(absl::string_view key, absl::string_view fallback) const;
  absl::StatusOr<int64_t> Int(absl::string_view key, int64_t fallback, int64_t min,
                              int64_t max) const;
  absl::StatusOr<double> Double(absl::string_view key, double fallback) const;
  absl::StatusOr<bool> Bool(absl::string_view key, bool fallback) const;
  absl::StatusOr<absl::Duration> Duration(absl::string_view key, absl::Duration fallback) const;
  absl::StatusOr<uint64_t> ByteSize(absl::string_view key, uint64_t fallback) const;
  // The value must be one of `allowed`.
  absl::StatusOr<std::string> Enum(absl::string_view key, absl::string_view fallback,
                                   std::initializer_list<absl::string_view> allowed) const;

  // A list of integers, each in [min, max]; `fallback` when absent.
  absl::StatusOr<std::vector<int64_t>> IntList(absl::string_view key,
                                               const std::vector<int64_t>& fallback, int64_t min,
                                               int64_t max) const;

  // A nested mapping (an empty one when absent) and a list of mappings (empty when absent).
  absl::StatusOr<ConfigNode> Map(absl::string_view key) const;
  absl::StatusOr<std::vector<ConfigNode>> List(absl::string_view key) const;

  // Fails on the first key of this mapping that is not in `known`.
  absl::Status RejectUnknownKeys(std::initializer_list<absl::string_view> known) const;
  absl::Status RejectUnknownKeys(const std::vector<absl::string_view>& known) const;

  // An InvalidArgument error about `key` of this node, located and formatted as above.
  absl::Status Error(absl::string_view key, absl::string_view reason) const;

  const std::string& source() const { return source_; }
  const std::string& path() const { return path_; }

 private:
  ConfigNode(std::string source, std::string path, const YAML::Node& node);
  // The scalar text at `key`; `*present` tells whether the key is there (and not null).
  absl::StatusOr<std::string> Scalar(absl::string_view key, bool* present) const;
  std::string FieldPath(absl::string_view key) const;
  int LineOf(absl::string_view key) const;

  std::string source_;                // file name
  std::string path_;                  // dotted path of this node from the document root
  std::unique_ptr<YAML::Node> node_;  // a pointer so this header does not include yaml-cpp
};

}  // namespace cosched
