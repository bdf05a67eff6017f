// File: common/config.cc
// The one adapter between cosched and yaml-cpp: yaml-cpp throws, so every call into it that
// can throw is wrapped here and turned into a Status.
#include "common/config.h"

#include <limits>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/units.h"
#include "yaml-cpp/yaml.h"

namespace cosched {
namespace {

absl::Status ParseError(const std::string& source, const YAML::Exception& e) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ":", e.mark.line + 1, ": YAML syntax error: ", e.msg));
}

}  // namespace

absl::StatusOr<ConfigNode> ConfigNode::LoadFile(const std::string& path) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", root.Mark().line + 1, ": the document must be a mapping"));
    }
    return ConfigNode(path, "", root);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open config file"));
  } catch (const YAML::Exception& e) {
    return ParseError(path, e);
  }
}

absl::StatusOr<ConfigNode> ConfigNode::LoadString(absl::string_view text, std::string source_name) {
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsDefined() || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", root.Mark().line + 1, ": the document must be a mapping"));
    }
    return ConfigNode(std::move(source_name), "", root);
  } catch (const YAML::Exception& e) {
    return ParseError(source_name, e);
  }
}

ConfigNode::ConfigNode(std::string source, std::string path, const YAML::Node& node)
    : source_(std::move(source)),
      path_(std::move(path)),
      node_(std::make_unique<YAML::Node>(node)) {}

ConfigNode::ConfigNode(const ConfigNode& other)
    : source_(other.source_),
      path_(other.path_),
      node_(std::make_unique<YAML::Node>(*other.node_)) {}

ConfigNode& ConfigNode::operator=(const ConfigNode& other) {
  source_ = other.source_;
  path_ = other.path_;
  node_ = std::make_unique<YAML::Node>(*other.node_);
  return *this;
}

ConfigNode::~ConfigNode() = default;

std::string ConfigNode::FieldPath(absl::string_view key) const {
  return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
}

int ConfigNode::LineOf(absl::string_view key) const {
  // Const access to a YAML::Node mapping does not insert the key.
  const YAML::Node& self = *node_;
  const YAML::Node child = self[std::string(key)];
  return (child.IsDefined() ? child.Mark().line : self.Mark().line) + 1;
}

absl::Status ConfigNode::Error(absl::string_view key, absl::string_view reason) const {
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ":", LineOf(key), ": field '", FieldPath(key), "': ", reason));
}

bool ConfigNode::Empty() const {
  const YAML::Node& self = *node_;
  return !self.IsDefined() || self.IsNull() || self.size() == 0;
}

bool ConfigNode::Has(absl::string_view key) const {
  const YAML::Node& self = *node_;
  return self[std::string(key)].IsDefined();
}

absl::StatusOr<std::string> ConfigNode::Scalar(absl::string_view key, bool* present) const {
  const YAML::Node& self = *node_;
  const YAML::Node child = self[std::string(key)];
  *present = child.IsDefined() && !child.IsNull();
  if (!*present) return std::string();
  if (!child.IsScalar()) return Error(key, "expected a single value, found a list or mapping");
  return child.Scalar();
}

absl::StatusOr<std::string> ConfigNode::String(absl::string_view key,
                                               absl::string_view fallback) const {
  bool present = false;
  auto text = Scalar(key, &present);
  if (!text.ok() || !present) return text.ok() ? std::string(fallback) : text;
  return text;
}

absl::StatusOr<int64_t> ConfigNode::Int(absl::string_view key, int64_t fallback, int64_t min,
                                        int64_t max) const {
  bool present = false;
  auto text = Scalar(key, &present);
  if (!text.ok()) return text.status();
  if (!present) return fallback;
  int64_t value = 0;
  if (!absl::SimpleAtoi(*text, &value)) {
    return Error(key, absl::StrCat("'", *text, "' is not an integer"));
  }
  if (value < min || value > max) {
    return Error(key, absl::StrCat(value, " is out of range [", min, ", ", max, "]"));
  }
  return value;
}

absl::StatusOr<double> ConfigNode::Double(absl::string_view key, double fallback) const {
  bool present = false;
  auto text = Scalar(key, &present);
  if (!text.ok()) return text.status();
  if (!present) return fallback;
  double value = 0;
  if (!absl::SimpleAtod(*text, &value)) {
    return Error(key, absl::StrCat("'", *text, "' is not a number"));
  }
  return value;
}

absl::StatusOr<bool> ConfigNode::Bool(absl::string_view key, bool fallback) const {
  bool present = false;
  auto text = Scalar(key, &present);
  if (!text.ok()) return text.status();
  if (!present) return fallback;
  if (*text == "true") return true;
  if (*text == "false") return false;
  return Error(key, absl::StrCat("'", *text, "' is not true or false"));
}

absl::StatusOr<absl::Duration> ConfigNode::Duration(absl::string_view key,
                                                    absl::Duration fallback) const {
  bool present = false;
  auto text = Scalar(key, &present);
  if (!text.ok()) return text.status();
  if (!present) return fallback;
  auto parsed = ParseDuration(*text);
  if (!parsed.ok()) return Error(key, parsed.status().message());
  return parsed;
}

absl::StatusOr<uint64_t> ConfigNode::ByteSize(absl::string_view key, uint64_t fallback) const {
  bool present = false;
  auto text = Scalar(key, &present);
  if (!text.ok()) return text.status();
  if (!present) return fallback;
  auto parsed = ParseByteSize(*text);
  if (!parsed.ok()) return Error(key, parsed.status().message());
  return parsed;
}

absl::StatusOr<std::string> ConfigNode::Enum(
    absl::string_view key, absl::string_view fallback,
    std::initializer_list<absl::string_view> allowed) const {
  auto value = String(key, fallback);
  if (!value.ok()) return value;
  for (absl::string_view a : allowed) {
    if (*value == a) return value;
  }
  return Error(key, absl::StrCat("'", *value, "' is not one of: ", absl::StrJoin(allowed, ", ")));
}

absl::StatusOr<std::vector<int64_t>> ConfigNode::IntList(absl::string_view key,
                                                         const std::vector<int64_t>& fallback,
                                                         int64_t min, int64_t max) const {
  const YAML::Node& self = *node_;
  const YAML::Node child = self[std::string(key)];
  if (!child.IsDefined() || child.IsNull()) return fallback;
  if (!child.IsSequence()) return Error(key, "expected a list of integers");
  std::vector<int64_t> values;
  for (size_t i = 0; i < child.size(); ++i) {
    int64_t value = 0;
    if (!child[i].IsScalar() || !absl::SimpleAtoi(child[i].Scalar(), &value)) {
      return Error(key, absl::StrCat("item ", i, " is not an integer"));
    }
    if (value < min || value > max) {
      return Error(
          key, absl::StrCat("item ", i, " (", value, ") is out of range [", min, ", ", max, "]"));
    }
    values.push_back(value);
  }
  return values;
}

absl::StatusOr<ConfigNode> ConfigNode::Map(absl::string_view key) const {
  const YAML::Node& self = *node_;
  const YAML::Node child = self[std::string(key)];
  if (!child.IsDefined() || child.IsNull()) {
    return ConfigNode(source_, FieldPath(key), YAML::Node(YAML::NodeType::Map));
  }
  if (!child.IsMap()) return Error(key, "expected a mapping of fields");
  return ConfigNode(source_, FieldPath(key), child);
}

absl::StatusOr<std::vector<ConfigNode>> ConfigNode::List(absl::string_view key) const {
  const YAML::Node& self = *node_;
  const YAML::Node child = self[std::string(key)];
  std::vector<ConfigNode> items;
  if (!child.IsDefined() || child.IsNull()) return items;
  if (!child.IsSequence()) return Error(key, "expected a list");
  for (size_t i = 0; i < child.size(); ++i) {
    const std::string item_path = absl::StrCat(FieldPath(key), "[", i, "]");
    if (!child[i].IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat(source_, ":", child[i].Mark().line + 1,
                                                     ": field '", item_path,
                                                     "': expected a mapping of fields"));
    }
    items.push_back(ConfigNode(source_, item_path, child[i]));
  }
  return items;
}

absl::Status ConfigNode::RejectUnknownKeys(std::initializer_list<absl::string_view> known) const {
  return RejectUnknownKeys(std::vector<absl::string_view>(known));
}

absl::Status ConfigNode::RejectUnknownKeys(const std::vector<absl::string_view>& known) const {
  for (const auto& entry : *node_) {
    const std::string key = entry.first.Scalar();
    bool found = false;
    for (absl::string_view k : known) found = found || k == key;
    if (!found) {
      return Error(key,
                   absl::StrCat("unknown field (known fields: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace cosched
