// File: common/flags.cc
#include "common/flags.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "common/units.h"

namespace cosched {

void FlagParser::String(absl::string_view name, std::string* value, absl::string_view help) {
  flags_.push_back(
      {std::string(name), std::string(help), *value, false, [value](absl::string_view v) {
         *value = std::string(v);
         return absl::OkStatus();
       }});
}

void FlagParser::Int(absl::string_view name, int64_t* value, absl::string_view help) {
  flags_.push_back({std::string(name), std::string(help), absl::StrCat(*value), false,
                    [value](absl::string_view v) {
                      if (!absl::SimpleAtoi(v, value)) {
                        return absl::InvalidArgumentError(
                            absl::StrCat("'", v, "' is not an integer"));
                      }
                      return absl::OkStatus();
                    }});
}

void FlagParser::Duration(absl::string_view name, absl::Duration* value, absl::string_view help) {
  flags_.push_back({std::string(name), std::string(help), absl::FormatDuration(*value), false,
                    [value](absl::string_view v) {
                      ASSIGN_OR_RETURN(*value, ParseDuration(v));
                      return absl::OkStatus();
                    }});
}

void FlagParser::Bool(absl::string_view name, bool* value, absl::string_view help) {
  flags_.push_back({std::string(name), std::string(help), *value ? "true" : "false", true,
                    [value](absl::string_view v) {
                      if (v == "true" || v == "1") {
                        *value = true;
                      } else if (v == "false" || v == "0") {
                        *value = false;
                      } else {
                        return absl::InvalidArgumentError(
                            absl::StrCat("'", v, "' is not true or false"));
                      }
                      return absl::OkStatus();
                    }});
}

void FlagParser::StringList(absl::string_view name, std::vector<std::string>* values,
                            absl::string_view help) {
  // Shared by the copies std::function makes of the setter: the first value drops the default.
  auto replaced = std::make_shared<bool>(false);
  flags_.push_back({std::string(name), std::string(help), absl::StrJoin(*values, ","), false,
                    [values, replaced](absl::string_view v) {
                      if (!*replaced) values->clear();
                      *replaced = true;
                      for (absl::string_view item : absl::StrSplit(v, ',', absl::SkipEmpty())) {
                        values->emplace_back(item);
                      }
                      return absl::OkStatus();
                    }});
}

std::string FlagParser::EnvName(absl::string_view name) {
  return absl::StrCat("COSCHED_", absl::AsciiStrToUpper(absl::StrReplaceAll(name, {{"-", "_"}})));
}

absl::Status FlagParser::Set(const Flag& flag, absl::string_view value, absl::string_view source) {
  if (absl::Status status = flag.set(value); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(program_, ": ", source, " --", flag.name, ": ", status.message()));
  }
  return absl::OkStatus();
}

void FlagParser::Short(char letter, absl::string_view name) {
  short_names_.emplace_back(letter, std::string(name));
}

absl::Status FlagParser::Parse(int argc, char** argv, int first) {
  std::vector<std::string> args;
  for (int i = first; i < argc; ++i) args.emplace_back(argv[i]);
  return Parse(args);
}

absl::Status FlagParser::Parse(const std::vector<std::string>& args) {
  std::set<std::string> given;
  const size_t argc = args.size();
  for (size_t i = 0; i < argc; ++i) {
    absl::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help_requested_ = true;
      continue;
    }
    std::string name;
    if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-') {
      for (const auto& [letter, long_name] : short_names_) {
        if (letter == arg[1]) name = long_name;
      }
      if (name.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(program_, ": unknown flag ", arg, " (see --help)"));
      }
      arg = "";
    } else if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      positional_.emplace_back(arg);
      continue;
    } else {
      arg.remove_prefix(2);
      name = std::string(arg.substr(0, arg.find('=')));
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags_) {
      if (f.name == name) flag = &f;
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(program_, ": unknown flag --", name, " (see --help)"));
    }
    std::string value;
    if (const size_t eq = arg.find('='); eq != absl::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
    } else if (flag->is_bool) {
      value = "true";
    } else if (i + 1 < argc) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(program_, ": flag --", name, " needs a value"));
    }
    RETURN_IF_ERROR(Set(*flag, value, "flag"));
    given.insert(name);
  }
  for (const Flag& flag : flags_) {
    if (given.contains(flag.name)) continue;
    const std::string env = EnvName(flag.name);
    if (const char* value = std::getenv(env.c_str()); value != nullptr) {
      RETURN_IF_ERROR(Set(flag, value, absl::StrCat("environment ", env, " for")));
    }
  }
  return absl::OkStatus();
}

std::optional<int> FlagParser::ParseOrExitCode(int argc, char** argv) {
  const absl::Status status = Parse(argc, argv);
  if (status.ok() && !help_requested_) return std::nullopt;
  std::fprintf(stderr, "%s%s%s", std::string(status.message()).c_str(), status.ok() ? "" : "\n",
               Usage().c_str());
  return status.ok() ? 0 : 2;
}

std::string FlagParser::Usage() const {
  std::string out = absl::StrCat("usage: ", program_, " [flags]\n");
  for (const Flag& f : flags_) {
    std::string short_name;
    for (const auto& [letter, long_name] : short_names_) {
      if (long_name == f.name) short_name = absl::StrCat(" (-", std::string(1, letter), ")");
    }
    absl::StrAppend(&out, "  --", f.name, short_name, "  ", f.help,
                    " (default: ", f.default_text.empty() ? "\"\"" : f.default_text, "; env ",
                    EnvName(f.name), ")\n");
  }
  return out;
}

bool FlagParser::TakesValue(absl::string_view name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return !flag.is_bool;
  }
  return true;
}

}  // namespace cosched
