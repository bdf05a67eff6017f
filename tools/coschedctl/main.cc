// File: tools/coschedctl/main.cc
// coschedctl: the command-line client of cosched-scheduler. Finds the subcommand among the
// arguments, parses the global flags together with that command's own, and runs it. Tables
// for people, `-o json` for scripts; exit codes in tools/coschedctl/command.h.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/coschedctl/command.h"
#include "tools/coschedctl/connection.h"

namespace cosched::coschedctl {
namespace {

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  for (auto group :
       {JobCommands, WaitCommands, NodeCommands, InferCommands, ModelCommands, CertCommands}) {
    for (Command& command : group()) all.push_back(std::move(command));
  }
  return all;
}

std::string GeneralUsage(const std::vector<Command>& commands) {
  std::string out = "usage: coschedctl [global flags] COMMAND [flags]\n\ncommands:\n";
  for (const Command& command : commands) {
    std::string call = absl::StrJoin(command.words, " ");
    if (!command.arguments.empty()) absl::StrAppend(&call, " ", command.arguments);
    absl::StrAppend(&out, "  ", call, std::string(call.size() < 18 ? 18 - call.size() : 1, ' '),
                    command.summary, "\n");
  }
  Options defaults;
  FlagParser globals("coschedctl");
  RegisterGlobalFlags(globals, defaults);
  std::string flags = globals.Usage();
  flags = flags.substr(flags.find('\n') + 1);  // drop its own "usage:" line
  absl::StrAppend(&out, "\nglobal flags:\n", flags,
                  "\n`coschedctl COMMAND --help` lists a command's own flags.\n"
                  "exit codes: 0 ok, 1 the operation failed, 2 bad command line, 3 `wait` timed "
                  "out, 4 scheduler unreachable\n");
  return out;
}

// The arguments that are not flags or flag values. The command must be known before its own
// flags can be registered, so `flags` knows every command's (which take values, and which,
// the Bool ones, do not).
std::vector<std::string> Words(const std::vector<std::string>& args, const FlagParser& flags) {
  std::vector<std::string> words;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") continue;
    if (absl::StartsWith(arg, "--") && arg.size() > 2) {
      if (arg.find('=') == std::string::npos && flags.TakesValue(arg.substr(2))) ++i;
      continue;
    }
    if (arg.size() == 2 && arg[0] == '-' && arg[1] != '-') {
      ++i;
      continue;
    }
    words.push_back(arg);
  }
  return words;
}

// The command whose words start `words`, the longest such.
const Command* FindCommand(const std::vector<Command>& commands,
                           const std::vector<std::string>& words) {
  const Command* found = nullptr;
  for (const Command& command : commands) {
    if (command.words.size() > words.size()) continue;
    if (!std::equal(command.words.begin(), command.words.end(), words.begin())) continue;
    if (found == nullptr || command.words.size() > found->words.size()) found = &command;
  }
  return found;
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const std::vector<Command> commands = AllCommands();
  Options every_option;  // only for telling flags that take values from those that do not
  FlagParser every_flag("coschedctl");
  RegisterGlobalFlags(every_flag, every_option);
  for (const Command& command : commands) {
    if (command.register_flags != nullptr) command.register_flags(every_flag, every_option);
  }
  const std::vector<std::string> words = Words(args, every_flag);
  const bool help = std::find(args.begin(), args.end(), "--help") != args.end() ||
                    std::find(args.begin(), args.end(), "-h") != args.end();
  const Command* command = FindCommand(commands, words);
  if (command == nullptr) {
    if (words.empty() && help) {
      std::fputs(GeneralUsage(commands).c_str(), stdout);
      return kExitOk;
    }
    std::fprintf(stderr, "coschedctl: %s\n\n%s",
                 words.empty()
                     ? "no command given"
                     : absl::StrCat("unknown command '", absl::StrJoin(words, " "), "'").c_str(),
                 GeneralUsage(commands).c_str());
    return kExitUsage;
  }

  const std::string name = absl::StrJoin(command->words, " ");
  Context context;
  FlagParser parser(absl::StrCat("coschedctl ", name));
  RegisterGlobalFlags(parser, context.options);
  if (command->register_flags != nullptr) command->register_flags(parser, context.options);
  const absl::Status parsed = parser.Parse(args);
  const std::string usage = absl::StrCat(
      command->summary, "\n", parser.Usage(),
      command->arguments.empty() ? "" : absl::StrCat("arguments: ", command->arguments, "\n"));
  if (!parsed.ok()) {
    std::fprintf(stderr, "%s\n%s", std::string(parsed.message()).c_str(), usage.c_str());
    return kExitUsage;
  }
  if (parser.help_requested()) {
    std::fputs(usage.c_str(), stdout);
    return kExitOk;
  }
  context.args.assign(parser.positional().begin() + static_cast<long>(command->words.size()),
                      parser.positional().end());
  if (context.args.size() < command->min_args) {
    return ReportUsage(absl::StrCat(name, " needs ", command->arguments));
  }
  if (context.args.size() > command->max_args) {
    return ReportUsage(absl::StrCat(
        name, " takes ", command->arguments.empty() ? "no arguments" : command->arguments,
        "; unexpected '", absl::StrJoin(context.args, " "), "'"));
  }
  if (context.options.output == "json") {
    context.format = OutputFormat::kJson;
  } else if (context.options.output != "table") {
    return ReportUsage(
        absl::StrCat("--output '", context.options.output, "' must be table or json"));
  }
  if (context.options.timeout <= absl::ZeroDuration()) {
    return ReportUsage("--timeout must be positive");
  }
  std::optional<SchedulerClient> client;
  if (!command->local) {
    if (absl::Status s = ResolveConnection(context.options); !s.ok()) {
      return ReportUsage(std::string(s.message()));
    }
    client.emplace(context.options.scheduler, context.options.timeout,
                   tls::SchedulerChannelCredentials(context.options.tls));
    context.client = &*client;
  }
  return command->run(context);
}

}  // namespace
}  // namespace cosched::coschedctl

int main(int argc, char** argv) { return cosched::coschedctl::Main(argc, argv); }
