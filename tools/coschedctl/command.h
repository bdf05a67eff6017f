// File: tools/coschedctl/command.h
// What every coschedctl subcommand shares: the exit codes, the options any flag can set, the
// context a command runs with, the command table main() dispatches on, and the one way
// failures are reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/flags.h"
#include "common/tls/credentials.h"
#include "tools/coschedctl/scheduler_client.h"

namespace cosched::coschedctl {

// Scripts branch on these; keep them stable.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,       // the scheduler (or a local file) said no
  kExitUsage = 2,        // bad command line
  kExitTimedOut = 3,     // `wait` ran out of time
  kExitUnreachable = 4,  // no scheduler answered at --scheduler
};

enum class OutputFormat { kTable, kJson };

// Everything a flag can set, global or per command. One struct keeps the flag registration
// functions simple; each command registers (and so accepts) only its own flags.
struct Options {
  // Global.
  std::string scheduler;  // empty: COSCHED_SCHEDULER, the config file, 127.0.0.1:7070
  tls::TlsFlags tls;      // connection.h says where each comes from
  std::string output = "table";
  absl::Duration timeout = absl::Seconds(10);
  // submit
  std::string file;
  // infer
  int64_t image_index = -1;
  std::string image;
  std::string data_dir;
  absl::Duration deadline = absl::Milliseconds(20);
  std::string model;
  // wait
  absl::Duration wait_for = absl::Minutes(10);
  // publish
  std::string checkpoint;
  int64_t version = -1;       // -1: the checkpoint's step
  std::string test_accuracy;  // a fraction, parsed by the command; empty: not evaluated
  bool promote = false;
  // certs
  std::string certs_dir = "cosched-certs";
  int64_t days = 365;
  int64_t not_before_days = 0;  // 0: now minus 5 minutes
  std::string ca_name = "cosched development CA";
  bool force = false;
  std::vector<std::string> hosts = {"localhost", "127.0.0.1"};
  std::string node_kind;
  std::string role;
};

struct Context {
  Options options;
  OutputFormat format = OutputFormat::kTable;
  std::vector<std::string> args;  // positional arguments after the command words
  SchedulerClient* client = nullptr;
};

struct Command {
  std::vector<std::string> words;  // {"get", "jobs"}
  std::string arguments;           // usage of the positional arguments, e.g. "ID"
  size_t min_args = 0, max_args = 0;
  std::string summary;
  void (*register_flags)(FlagParser& parser, Options& options) = nullptr;  // may be null
  int (*run)(const Context& context) = nullptr;                            // an ExitCode
  // Works on local files only (`certs`): no scheduler, so no connection settings and no
  // client (Context::client stays null).
  bool local = false;
};

// The command tables of each command group (one .cc file each).
std::vector<Command> JobCommands();
std::vector<Command> WaitCommands();
std::vector<Command> NodeCommands();
std::vector<Command> InferCommands();
std::vector<Command> ModelCommands();
std::vector<Command> CertCommands();  // local files only: never calls the scheduler

// --scheduler, --output/-o and --timeout.
void RegisterGlobalFlags(FlagParser& parser, Options& options);

// Prints why `what` failed to stderr and returns the exit code for it: kExitUnreachable
// (naming the address and how to fix it) or kExitFailed (with the gRPC status code name).
int ReportFailure(const Context& context, absl::string_view what, const absl::Status& status);

// A usage error found by a command after flag parsing (conflicting flags and the like).
int ReportUsage(absl::string_view message);

// Writes `text` to stdout as is.
void Print(absl::string_view text);

}  // namespace cosched::coschedctl
