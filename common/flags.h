// File: common/flags.h
// FlagParser: the command-line flags of cosched's programs. `--name value` and
// `--name=value`; every flag can also come from the environment as COSCHED_<NAME> (upper
// case, '-' becomes '_'), so `mpirun -x` and Kubernetes env work; the command line wins.
// Unknown flags and malformed values are errors that name the flag.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cosched {

class FlagParser {
 public:
  explicit FlagParser(std::string program) : program_(std::move(program)) {}

  void String(absl::string_view name, std::string* value, absl::string_view help);
  void Int(absl::string_view name, int64_t* value, absl::string_view help);
  void Duration(absl::string_view name, absl::Duration* value, absl::string_view help);
  void Bool(absl::string_view name, bool* value, absl::string_view help);  // --name, --name=false
  // Repeatable, each value comma-separated: `--host a,b --host c` gives {a, b, c}. What
  // `*values` holds beforehand is the default, replaced (not extended) by the first value.
  void StringList(absl::string_view name, std::vector<std::string>* values, absl::string_view help);
  // `-<letter> value` stands for `--name value` (for example -o for --output).
  void Short(char letter, absl::string_view name);

  // Parses argv[first..]; non-flag arguments are kept in positional().
  absl::Status Parse(int argc, char** argv, int first = 1);
  absl::Status Parse(const std::vector<std::string>& args);
  // For main(): parses, and on --help or an error prints it with the usage to stderr.
  // Returns the exit code main() should return now (0 after --help, 2 after an error), or
  // nullopt to carry on.
  std::optional<int> ParseOrExitCode(int argc, char** argv);
  const std::vector<std::string>& positional() const { return positional_; }
  // Whether `--name` is followed by its value (every registered flag but a Bool; an unknown
  // one is taken to, as Parse would refuse it anyway).
  bool TakesValue(absl::string_view name) const;
  bool help_requested() const { return help_requested_; }
  std::string Usage() const;

  // The environment variable that stands in for flag `name`.
  static std::string EnvName(absl::string_view name);

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool;
    std::function<absl::Status(absl::string_view)> set;
  };
  absl::Status Set(const Flag& flag, absl::string_view value, absl::string_view source);

  std::string program_;
  std::vector<Flag> flags_;
  std::vector<std::pair<char, std::string>> short_names_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

}  // namespace cosched
