// File: tools/allreduce_demo_main.cc
// cosched-allreduce-demo: what `make run` runs until the worker and scheduler exist.
// It starts N cosched-collective-peer processes on this machine over a file store, lets them
// allreduce (each checks every result), kills one with SIGKILL mid-run, shows the survivors
// detect it within the collective timeout, publishes the next generation's members (the
// scheduler's job, later) and lets the survivors finish in generation 1. It prints what
// happened as it goes and ends with one JSON line.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collectives/file_store.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "common/units.h"
#include "nlohmann/json.hpp"

namespace cosched::tools {
namespace {

using nlohmann::json;

struct DemoFlags {
  int64_t ranks = 3;
  std::string size = "4MiB";
  int64_t iterations = 10;
  int64_t kill_after = 3;
  absl::Duration timeout = absl::Seconds(3);
};

struct Peer {
  int original_rank;
  std::unique_ptr<Subprocess> process;
  bool alive = true;
};

std::string PeerBinary() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / "cosched-collective-peer").string();
}

// Reads `peer`'s events until `event` arrives, printing progress on the way.
absl::StatusOr<json> AwaitEvent(Peer& peer, absl::string_view event, absl::Time deadline) {
  while (true) {
    ASSIGN_OR_RETURN(const std::string line, peer.process->ReadLine(deadline));
    json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_object()) continue;
    const std::string name = parsed.value("event", "");
    if (name == "allreduce_ok") {
      std::printf("  rank %d  gen %lld  allreduce %-3lld ok, sum verified  %.1f ms\n",
                  peer.original_rank, static_cast<long long>(parsed.value("generation", 0)),
                  static_cast<long long>(parsed.value("iteration", 0)),
                  parsed.value("seconds", 0.0) * 1e3);
    }
    if (name == event) return parsed;
  }
}

absl::Status RunDemo(const DemoFlags& flags) {
  ASSIGN_OR_RETURN(const uint64_t bytes, ParseByteSize(flags.size));
  if (flags.ranks < 2 || flags.kill_after < 1 || flags.kill_after >= flags.iterations) {
    return absl::InvalidArgumentError("need --ranks >= 2 and 1 <= --kill-after < --iterations");
  }
  const absl::Time start = absl::Now();
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("cosched-demo-", ::getpid())).string();
  std::filesystem::remove_all(dir);
  ASSIGN_OR_RETURN(auto store, collectives::FileStore::Open(dir));

  std::printf(
      "cosched allreduce demo: %lld ranks as processes, %s per allreduce, gloo over "
      "loopback TCP, rendezvous in %s\n",
      static_cast<long long>(flags.ranks), FormatByteSize(bytes).c_str(), dir.c_str());
  std::vector<Peer> peers;
  for (int rank = 0; rank < flags.ranks; ++rank) {
    ASSIGN_OR_RETURN(
        auto process,
        Subprocess::Spawn({PeerBinary(), "--bootstrap", "file:" + dir, "--job", "demo", "--rank",
                           absl::StrCat(rank), "--world", absl::StrCat(flags.ranks), "--floats",
                           absl::StrCat(bytes / sizeof(float)), "--iterations",
                           absl::StrCat(flags.iterations), "--timeout",
                           absl::FormatDuration(flags.timeout), "--rejoin"}));
    peers.push_back({rank, std::move(process)});
  }
  const absl::Time deadline = absl::Now() + absl::Minutes(2);

  std::printf("\ngeneration 0: %lld ranks\n", static_cast<long long>(flags.ranks));
  for (int i = 0; i < flags.kill_after; ++i) {
    for (Peer& peer : peers) RETURN_IF_ERROR(AwaitEvent(peer, "allreduce_ok", deadline).status());
  }
  Peer& victim = peers.back();
  victim.process->Kill(SIGKILL);
  victim.alive = false;
  const absl::Time killed_at = absl::Now();
  std::printf("\nkill -9 rank %d (pid %d) during generation 0\n", victim.original_rank,
              victim.process->pid());
  double detect_seconds = 0;
  std::vector<std::string> survivors;
  for (Peer& peer : peers) {
    if (!peer.alive) continue;
    ASSIGN_OR_RETURN(const json failed,
                     AwaitEvent(peer, "allreduce_failed", killed_at + flags.timeout * 2));
    const double seconds = absl::ToDoubleSeconds(absl::Now() - killed_at);
    detect_seconds = std::max(detect_seconds, seconds);
    std::printf("  rank %d saw %s after %.3f s (timeout %s)\n", peer.original_rank,
                failed.value("code", "?").c_str(), seconds,
                absl::FormatDuration(flags.timeout).c_str());
    survivors.push_back(absl::StrCat(peer.original_rank));
  }
  const std::string members = absl::StrJoin(survivors, ",");
  std::printf("\ngeneration 1: members %s (published under job/demo/members/1)\n", members.c_str());
  RETURN_IF_ERROR(
      store->Set("job/demo/members/1", std::vector<char>(members.begin(), members.end())));
  int64_t verified_in_gen1 = 0;
  for (Peer& peer : peers) {
    if (!peer.alive) continue;
    ASSIGN_OR_RETURN(const json finished, AwaitEvent(peer, "finished", deadline));
    verified_in_gen1 += finished.value("iterations", 0);
    ASSIGN_OR_RETURN(const int exit_code, peer.process->Wait(deadline));
    if (exit_code != 0) {
      return absl::InternalError(
          absl::StrCat("rank ", peer.original_rank, " exited with ", exit_code));
    }
  }
  std::filesystem::remove_all(dir);
  std::printf("\nsurvivors finished generation 1; every allreduce result was checked\n");
  const json summary = {{"event", "demo_finished"},
                        {"ranks", flags.ranks},
                        {"bytes_per_allreduce", bytes},
                        {"generations", 2},
                        {"failure_detect_seconds", detect_seconds},
                        {"verified_allreduces_generation_1", verified_in_gen1},
                        {"wall_seconds", absl::ToDoubleSeconds(absl::Now() - start)}};
  std::printf("%s\n", summary.dump().c_str());
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  DemoFlags flags;
  FlagParser parser("cosched-allreduce-demo");
  parser.Int("ranks", &flags.ranks, "number of rank processes (>= 2)");
  parser.String("size", &flags.size, "bytes per allreduce (e.g. 4MiB)");
  parser.Int("iterations", &flags.iterations, "allreduces per generation");
  parser.Int("kill-after", &flags.kill_after, "allreduces before one rank is killed");
  parser.Duration("timeout", &flags.timeout, "collective timeout");
  if (std::optional<int> exit_code = parser.ParseOrExitCode(argc, argv)) return *exit_code;
  InitLogging("warn", "demo").IgnoreError();
  if (absl::Status s = RunDemo(flags); !s.ok()) {
    std::fprintf(stderr, "cosched-allreduce-demo: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cosched::tools

int main(int argc, char** argv) { return cosched::tools::Main(argc, argv); }
