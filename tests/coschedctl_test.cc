// File: tests/coschedctl_test.cc
// coschedctl as a user runs it, as real processes, with an admin client's certificate (the
// scheduler speaks mutual TLS): against an address where nothing listens (or where nothing
// answers) it exits 4 within --timeout naming the address and the fix; bad command lines exit
// 2; against a real cosched-scheduler with no workers it submits, lists, describes (with the
// waiting reason), cancels, lists nodes, refuses a bad job file naming the field, and reports
// an inference refusal with its gRPC status.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "common/tls/dev_pki.h"
#include "nlohmann/json.hpp"
#include "tests/support/scoped_dir.h"

namespace cosched {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

using testing::ScopedDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
  absl::Duration took;
  std::string Describe() const {
    return absl::StrCat("exit ", exit_code, "\nstdout:\n", out, "\nstderr:\n", err);
  }
};

// Runs coschedctl with `args` to completion, stdout and stderr kept apart (scripts parse
// stdout; errors go to stderr).
Outcome Coschedctl(const ScopedDir& dir, const std::vector<std::string>& args,
                   const std::vector<std::string>& env = {}) {
  static int runs = 0;
  const std::string out = absl::StrCat(dir.path(), "/run", ++runs, ".out");
  const std::string err = absl::StrCat(dir.path(), "/run", runs, ".err");
  std::vector<std::string> argv = {"/bin/sh",
                                   "-c",
                                   "out=$1; err=$2; shift 2; exec \"$@\" >\"$out\" 2>\"$err\"",
                                   "sh",
                                   out,
                                   err,
                                   COSCHEDCTL_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  Subprocess::Options options;
  options.capture_stdout = false;
  options.extra_env = env;
  Outcome run;
  const absl::Time start = absl::Now();
  auto process = Subprocess::Spawn(argv, options);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return run;
  // Every call has a deadline of its own; this only keeps a broken build from hanging CI.
  auto code = (*process)->Wait(start + absl::Seconds(60));
  EXPECT_TRUE(code.ok()) << code.status();
  run.took = absl::Now() - start;
  if (code.ok()) run.exit_code = *code;
  run.out = ReadFile(out);
  run.err = ReadFile(err);
  return run;
}

// Certificates for one test in `dir`/certs: a CA, the scheduler's, and the admin client's.
struct Certificates {
  tls::TlsFlags scheduler;
  std::vector<std::string> client_args;  // coschedctl's --tls-ca, --tls-cert, --tls-key

  static Certificates Create(const ScopedDir& dir) {
    Certificates out;
    absl::StatusOr<tls::DevelopmentPki> pki = tls::DevelopmentPki::Create(dir.path() + "/certs");
    EXPECT_TRUE(pki.ok()) << pki.status();
    if (!pki.ok()) return out;
    out.scheduler = pki->Scheduler();
    absl::StatusOr<tls::TlsFlags> admin = pki->Client("admin", tls::Role::kAdmin);
    EXPECT_TRUE(admin.ok()) << admin.status();
    if (admin.ok()) out.client_args = tls::DevelopmentPki::Args(*admin);
    return out;
  }
  // The client's flags, then `args`.
  std::vector<std::string> With(const std::vector<std::string>& args) const {
    std::vector<std::string> all = client_args;
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }
};

json ParseJson(const Outcome& run) {
  json parsed = json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(parsed.is_discarded()) << run.Describe();
  return parsed;
}

// A TCP socket on 127.0.0.1 with a port of its own. Listening but never accepting, it is a
// peer that completes the handshake and then says nothing.
class LocalSocket {
 public:
  explicit LocalSocket(bool listen) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    socklen_t length = sizeof(address);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
    if (listen) {
      EXPECT_EQ(::listen(fd_, 16), 0);
    }
  }
  ~LocalSocket() { ::close(fd_); }
  LocalSocket(const LocalSocket&) = delete;
  LocalSocket& operator=(const LocalSocket&) = delete;
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

void ExpectUnreachable(const Outcome& run, const std::string& address, absl::Duration timeout) {
  EXPECT_EQ(run.exit_code, 4) << run.Describe();
  EXPECT_THAT(run.err, HasSubstr("cannot reach the scheduler at " + address)) << run.Describe();
  EXPECT_THAT(run.err, HasSubstr("cosched-scheduler"));
  EXPECT_THAT(run.err, HasSubstr("--scheduler"));
  EXPECT_THAT(run.err, HasSubstr("COSCHED_SCHEDULER"));
  EXPECT_EQ(run.out, "");
  // Within --timeout, plus process start-up on a loaded machine.
  EXPECT_LT(run.took, timeout + absl::Seconds(3)) << run.Describe();
}

TEST(CoschedctlTest, UnreachableSchedulerIsExitFourWithinTheTimeout) {
  const ScopedDir dir("unreachable");
  // Complete TLS settings: what fails is reaching the scheduler, not the command line.
  const Certificates certs = Certificates::Create(dir);
  ASSERT_FALSE(certs.client_args.empty());
  {
    // Bound but not listening: connections are refused.
    const LocalSocket closed(/*listen=*/false);
    const Outcome run = Coschedctl(
        dir, certs.With({"--scheduler", closed.address(), "--timeout", "3s", "get", "jobs"}));
    ExpectUnreachable(run, closed.address(), absl::Seconds(3));
  }
  {
    // The address from the environment, as COSCHED_SCHEDULER.
    const LocalSocket closed(/*listen=*/false);
    const Outcome run = Coschedctl(dir, certs.With({"get", "nodes", "--timeout", "3s"}),
                                   {"COSCHED_SCHEDULER=" + closed.address()});
    ExpectUnreachable(run, closed.address(), absl::Seconds(3));
  }
  {
    // Something accepts the connection but never answers (no TLS handshake, no gRPC): the
    // deadline ends it.
    const LocalSocket silent(/*listen=*/true);
    const Outcome run = Coschedctl(dir, certs.With({"describe", "job", "j-1", "--scheduler",
                                                    silent.address(), "--timeout", "1s"}));
    ExpectUnreachable(run, silent.address(), absl::Seconds(1));
    EXPECT_GE(run.took, absl::Milliseconds(900)) << run.Describe();
  }
}

TEST(CoschedctlTest, BadCommandLinesAreExitTwo) {
  const ScopedDir dir("usage");
  // Complete TLS settings: each line is refused for what is wrong with it.
  const Certificates certs = Certificates::Create(dir);
  ASSERT_FALSE(certs.client_args.empty());
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"get"},
      {"get", "jobs", "--bogus", "1"},
      {"describe", "job"},
      {"cancel", "a", "b"},
      {"get", "jobs", "-o", "yaml"},
      {"infer"},
      {"infer", "--image-index", "1", "--image", "x.pgm"},
      {"wait", "j-1", "--for", "soon"},
  };
  for (const auto& args : bad) {
    // Nothing listens there: a usage error must come before any call.
    const Outcome run = Coschedctl(dir, certs.With(args));
    EXPECT_EQ(run.exit_code, 2) << run.Describe();
    EXPECT_NE(run.err, "") << run.Describe();
  }
  const Outcome help = Coschedctl(dir, {"--help"});
  EXPECT_EQ(help.exit_code, 0) << help.Describe();
  EXPECT_THAT(help.out, HasSubstr("describe job ID"));
  EXPECT_THAT(help.out, HasSubstr("COSCHED_SCHEDULER"));
}

// One cosched-scheduler on a port of its own, stopped with SIGTERM at the end.
class Scheduler {
 public:
  // Its write-ahead log goes to `data_dir`, so no state from other runs comes back;
  // `certificate`: its TLS files.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Start(const std::string& data_dir,
                                                          const tls::TlsFlags& certificate) {
    std::vector<std::string> argv = {COSCHED_SCHEDULER_BINARY,
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--data-dir",
                                     data_dir,
                                     "--log-level",
                                     "warn"};
    const std::vector<std::string> tls_args = tls::DevelopmentPki::Args(certificate);
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    auto process = Subprocess::Spawn(argv);
    if (!process.ok()) return process.status();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (true) {
      auto line = (*process)->ReadLine(deadline);
      if (!line.ok()) return line.status();
      json parsed = json::parse(*line, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_object() && parsed.value("event", "") == "scheduler_ready") {
        return std::unique_ptr<Scheduler>(
            new Scheduler(*std::move(process), parsed.value("address", "")));
      }
    }
  }
  ~Scheduler() {
    process_->Kill(SIGTERM);
    auto code = process_->Wait(absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(code.ok()) << code.status();
  }
  const std::string& address() const { return address_; }

 private:
  Scheduler(std::unique_ptr<Subprocess> process, std::string address)
      : process_(std::move(process)), address_(std::move(address)) {}
  std::unique_ptr<Subprocess> process_;
  std::string address_;
};

TEST(CoschedctlTest, JobLifecycleAgainstASchedulerWithoutWorkers) {
  const ScopedDir dir("lifecycle");
  const Certificates certs = Certificates::Create(dir);
  ASSERT_FALSE(certs.client_args.empty());
  auto scheduler = Scheduler::Start(dir.path() + "/scheduler-data", certs.scheduler);
  ASSERT_TRUE(scheduler.ok()) << scheduler.status();
  const std::string address = (*scheduler)->address();
  ASSERT_NE(address, "");
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--scheduler", address});
    return Coschedctl(dir, certs.With(args));
  };

  // Submit: one JSON document with the id.
  const Outcome submitted = ctl({"submit", "-f", COSCHED_FASHION_JOB, "-o", "json"});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.Describe();
  const json submit_reply = ParseJson(submitted);
  const std::string id = submit_reply.value("job_id", "");
  ASSERT_NE(id, "") << submitted.Describe();

  // Listed, and pending: there are no workers.
  const Outcome listed = ctl({"get", "jobs", "-o", "json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.Describe();
  const json jobs = ParseJson(listed);
  ASSERT_TRUE(jobs.contains("jobs")) << listed.Describe();
  ASSERT_EQ(jobs["jobs"].size(), 1u) << listed.Describe();
  EXPECT_EQ(jobs["jobs"][0].value("job_id", ""), id);
  EXPECT_EQ(jobs["jobs"][0].value("name", ""), "fashion-mlp");
  EXPECT_EQ(jobs["jobs"][0].value("state", ""), "pending");
  const Outcome table = ctl({"get", "jobs"});
  ASSERT_EQ(table.exit_code, 0) << table.Describe();
  EXPECT_THAT(table.out, HasSubstr("STATE"));
  EXPECT_THAT(table.out, HasSubstr("pending"));

  // Describe says why it waits, and shows its events.
  const Outcome described = ctl({"describe", "job", id});
  ASSERT_EQ(described.exit_code, 0) << described.Describe();
  EXPECT_THAT(described.out, HasSubstr("Waiting:"));
  const std::string reason = jobs["jobs"][0].value("waiting_reason", "");
  EXPECT_NE(reason, "") << listed.Describe();
  EXPECT_THAT(described.out, HasSubstr("Waiting:      " + reason));
  EXPECT_THAT(described.out, HasSubstr(id + " is pending"));
  EXPECT_THAT(described.out, HasSubstr("submitted"));
  EXPECT_THAT(described.out, HasSubstr("Generation:"));

  // `wait` gives up after --for with exit 3 while the job cannot start.
  const Outcome waited = ctl({"wait", id, "--for", "1s"});
  EXPECT_EQ(waited.exit_code, 3) << waited.Describe();
  EXPECT_THAT(waited.out, HasSubstr("pending"));

  // Cancel; it shows as cancelled; `wait` then reports the failure with the events.
  const Outcome cancelled = ctl({"cancel", id});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.Describe();
  const Outcome after = ctl({"get", "jobs", "-o", "json"});
  ASSERT_EQ(after.exit_code, 0) << after.Describe();
  const json jobs_after = ParseJson(after);
  ASSERT_EQ(jobs_after["jobs"].size(), 1u) << after.Describe();
  EXPECT_EQ(jobs_after["jobs"][0].value("state", ""), "cancelled");
  const Outcome waited_cancelled = ctl({"wait", id});
  EXPECT_EQ(waited_cancelled.exit_code, 1) << waited_cancelled.Describe();
  EXPECT_THAT(waited_cancelled.err, HasSubstr("cancelled by the user"));

  // Operations the scheduler refuses: exit 1 with the gRPC status code name.
  const Outcome again = ctl({"cancel", id});
  EXPECT_EQ(again.exit_code, 1) << again.Describe();
  EXPECT_THAT(again.err, HasSubstr("FAILED_PRECONDITION"));
  const Outcome missing = ctl({"describe", "job", "no-such-job"});
  EXPECT_EQ(missing.exit_code, 1) << missing.Describe();
  EXPECT_THAT(missing.err, HasSubstr("NOT_FOUND"));

  // No workers: an empty list of nodes.
  const Outcome nodes = ctl({"get", "nodes", "-o", "json"});
  ASSERT_EQ(nodes.exit_code, 0) << nodes.Describe();
  const json node_list = ParseJson(nodes);
  ASSERT_TRUE(node_list.contains("nodes")) << nodes.Describe();
  EXPECT_TRUE(node_list["nodes"].is_array());
  EXPECT_TRUE(node_list["nodes"].empty());

  // A bad job file: refused, naming the field.
  const std::string bad = dir.path() + "/bad.yaml";
  std::ofstream(bad) << "job:\n  name: bad\n  training:\n    global_batch: -5\n";
  const Outcome refused = ctl({"submit", "-f", bad});
  EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
  EXPECT_THAT(refused.err, HasSubstr("INVALID_ARGUMENT"));
  EXPECT_THAT(refused.err, HasSubstr("job.training.global_batch"));

  // Inference with no worker registered: refused at once, saying why.
  const Outcome inferred = ctl({"infer", "--image-index", "0", "--deadline", "20ms"});
  EXPECT_EQ(inferred.exit_code, 1) << inferred.Describe();
  EXPECT_THAT(inferred.err, HasSubstr("RESOURCE_EXHAUSTED"));
  EXPECT_THAT(inferred.err, HasSubstr("no worker"));
  // A file that is not an image: refused before any call, saying what is wrong.
  const Outcome not_image = ctl({"infer", "--image", bad});
  EXPECT_EQ(not_image.exit_code, 1) << not_image.Describe();
  EXPECT_THAT(not_image.err, HasSubstr("784 raw bytes"));
}

}  // namespace
}  // namespace cosched
