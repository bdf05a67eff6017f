// File: tools/collective_peer_main.cc
// cosched-collective-peer: one rank of a data-parallel allreduce loop, as its own process.
// It exists to exercise the collectives layer across real processes: the local allreduce
// demo (`make run`), the peer-death test and the MPI bootstrap test all run it.
//
// Each iteration allreduces a buffer whose expected sum is known and checks it. If the group
// fails (a peer died), the peer reports it and, with --rejoin, waits for the launcher to
// publish the next generation's members (store key job/<id>/members/<g>, a comma-separated
// list of original ranks), forms that generation and carries on. Progress is one JSON line
// per event on stdout; logs go to stderr.
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collectives/collective_group.h"
#include "collectives/file_store.h"
#include "collectives/gloo_group.h"
#include "collectives/mpi_bootstrap.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace cosched::tools {
namespace {

using collectives::CollectiveGroup;
using collectives::KeyValueStore;
using nlohmann::json;

struct PeerFlags {
  std::string bootstrap = "";  // file:DIR or mpi
  std::string job = "demo";
  int64_t rank = 0;
  int64_t world = 1;
  int64_t floats = 1 << 20;
  int64_t iterations = 20;  // per generation; 0 = until the group fails
  absl::Duration timeout = absl::Seconds(5);
  bool rejoin = false;
  std::string log_level = "warn";
};

void Emit(json event) {
  std::printf("%s\n", event.dump().c_str());
  std::fflush(stdout);
}

// Rank r contributes (r + 1) * (i % 7 + 1) at index i; the sum over ranks is exact in float.
void FillRankData(std::vector<float>& data, int rank) {
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<float>((rank + 1) * static_cast<int>(i % 7 + 1));
  }
}

absl::Status CheckSummed(const std::vector<float>& data, int world) {
  const float ranks_sum = static_cast<float>(world * (world + 1) / 2);
  for (size_t i = 0; i < data.size(); ++i) {
    const float expected = ranks_sum * static_cast<float>(i % 7 + 1);
    if (data[i] != expected) {
      return absl::DataLossError(
          absl::StrCat("element ", i, " is ", data[i], ", expected ", expected));
    }
  }
  return absl::OkStatus();
}

std::string MembersKey(absl::string_view job, int64_t generation) {
  return absl::StrCat("job/", job, "/members/", generation);
}

// This process's rank in `generation`, from the member list the launcher published;
// nullopt if this process is not a member.
absl::StatusOr<std::optional<std::pair<int, int>>> NextMembership(KeyValueStore& store,
                                                                  const PeerFlags& flags,
                                                                  int64_t generation) {
  ASSIGN_OR_RETURN(const std::vector<char> value,
                   store.Get(MembersKey(flags.job, generation), flags.timeout * 4));
  const std::vector<std::string> members =
      absl::StrSplit(std::string(value.begin(), value.end()), ',', absl::SkipEmpty());
  for (size_t i = 0; i < members.size(); ++i) {
    int original = -1;
    if (!absl::SimpleAtoi(members[i], &original)) {
      return absl::InvalidArgumentError(absl::StrCat("bad member list '", members[i], "'"));
    }
    if (original == flags.rank) {
      return std::make_optional(
          std::make_pair(static_cast<int>(i), static_cast<int>(members.size())));
    }
  }
  return std::optional<std::pair<int, int>>();
}

// Forms generation `generation` with `rank` of `world`; `store` is null under MPI.
using GroupFactory =
    std::function<absl::StatusOr<std::unique_ptr<CollectiveGroup>>(collectives::GroupOptions)>;

absl::Status RunPeer(const PeerFlags& flags, KeyValueStore* store, const GroupFactory& create,
                     int rank, int world) {
  int64_t generation = 0;
  std::vector<float> data(static_cast<size_t>(flags.floats));
  while (true) {
    collectives::GroupOptions options;
    options.job_id = flags.job;
    options.generation = generation;
    options.rank = rank;
    options.world_size = world;
    options.store = store;
    options.timeout = flags.timeout;
    ASSIGN_OR_RETURN(std::unique_ptr<CollectiveGroup> group, create(options));
    Emit({{"event", "group_formed"},
          {"original_rank", flags.rank},
          {"rank", rank},
          {"world", world},
          {"generation", generation}});
    absl::Status failure;
    int64_t done = 0;
    while (flags.iterations == 0 || done < flags.iterations) {
      FillRankData(data, rank);
      const absl::Time start = absl::Now();
      failure = group->Allreduce(absl::MakeSpan(data));
      if (!failure.ok()) break;
      RETURN_IF_ERROR(CheckSummed(data, world));
      ++done;
      Emit({{"event", "allreduce_ok"},
            {"original_rank", flags.rank},
            {"generation", generation},
            {"iteration", done},
            {"seconds", absl::ToDoubleSeconds(absl::Now() - start)}});
    }
    if (failure.ok()) {
      // Finish together so no rank closes its sockets under a peer still reading.
      RETURN_IF_ERROR(group->Barrier());
      Emit({{"event", "finished"},
            {"original_rank", flags.rank},
            {"generation", generation},
            {"iterations", done}});
      return absl::OkStatus();
    }
    Emit({{"event", "allreduce_failed"},
          {"original_rank", flags.rank},
          {"generation", generation},
          {"code", absl::StatusCodeToString(failure.code())},
          {"message", std::string(failure.message())}});
    if (!flags.rejoin || store == nullptr) return failure;
    group.reset();
    ++generation;
    ASSIGN_OR_RETURN(auto membership, NextMembership(*store, flags, generation));
    if (!membership) {
      Emit({{"event", "left"}, {"original_rank", flags.rank}, {"generation", generation}});
      return absl::OkStatus();
    }
    std::tie(rank, world) = *membership;
  }
}

int Main(int argc, char** argv) {
  PeerFlags flags;
  FlagParser parser("cosched-collective-peer");
  parser.String("bootstrap", &flags.bootstrap, "file:DIR (a shared directory) or mpi");
  parser.String("job", &flags.job, "job id (the store key prefix)");
  parser.Int("rank", &flags.rank, "this rank (file bootstrap)");
  parser.Int("world", &flags.world, "number of ranks (file bootstrap)");
  parser.Int("floats", &flags.floats, "floats per allreduce");
  parser.Int("iterations", &flags.iterations, "allreduces per generation; 0 = until failure");
  parser.Duration("timeout", &flags.timeout, "collective timeout");
  parser.Bool("rejoin", &flags.rejoin, "after a failure, join the next generation");
  parser.String("log-level", &flags.log_level, "trace|debug|info|warn|error");
  if (std::optional<int> exit_code = parser.ParseOrExitCode(argc, argv)) return *exit_code;
  if (absl::Status s = InitLogging(flags.log_level, absl::StrCat("peer-", flags.rank)); !s.ok()) {
    std::fprintf(stderr, "cosched-collective-peer: --log-level: %s\n",
                 std::string(s.message()).c_str());
    return 2;
  }
  if (flags.floats < 0) {
    std::fprintf(stderr, "cosched-collective-peer: --floats must be >= 0\n");
    return 2;
  }
  absl::Status result;
  if (flags.bootstrap == "mpi") {
    auto session = collectives::MpiSession::Init(&argc, &argv);
    if (!session.ok()) {
      std::fprintf(stderr, "cosched-collective-peer: %s\n", session.status().ToString().c_str());
      return 1;
    }
    flags.rank = (*session)->rank();
    collectives::MpiSession& mpi = **session;
    result = RunPeer(
        flags, /*store=*/nullptr,
        [&](collectives::GroupOptions o) { return mpi.CreateGroup(std::move(o)); }, mpi.rank(),
        mpi.world_size());
  } else if (absl::StartsWith(flags.bootstrap, "file:")) {
    auto store = collectives::FileStore::Open(flags.bootstrap.substr(5));
    if (!store.ok()) {
      std::fprintf(stderr, "cosched-collective-peer: --bootstrap: %s\n",
                   std::string(store.status().message()).c_str());
      return 2;
    }
    if (flags.world < 1 || flags.rank < 0 || flags.rank >= flags.world) {
      std::fprintf(stderr, "cosched-collective-peer: --rank %ld is not in [0, --world %ld)\n",
                   static_cast<long>(flags.rank), static_cast<long>(flags.world));
      return 2;
    }
    result = RunPeer(flags, store->get(), &collectives::CreateGroup, static_cast<int>(flags.rank),
                     static_cast<int>(flags.world));
  } else {
    std::fprintf(stderr, "cosched-collective-peer: --bootstrap must be file:DIR or mpi, not '%s'\n",
                 flags.bootstrap.c_str());
    return 2;
  }
  if (!result.ok()) {
    spdlog::error("{}", result.ToString());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cosched::tools

int main(int argc, char** argv) { return cosched::tools::Main(argc, argv); }
