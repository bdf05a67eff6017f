// `mpirun -np 2` starts two peers that bootstrap through MPI, form a gloo group and check the
// allreduce result (each peer verifies the sum before it reports allreduce_ok).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>

#include "common/subprocess.h"
#include "nlohmann/json.hpp"

namespace cosched {
namespace {

using nlohmann::json;

TEST(MpiBootstrapTest, TwoRanksUnderMpirunAllreduceCorrectly) {
  std::vector<std::string> argv = {"mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none"};
  if (::geteuid() == 0) argv.push_back("--allow-run-as-root");
  for (const char* arg : {COSCHED_PEER_BINARY, "--bootstrap", "mpi", "--job", "mpi-test",
                          "--iterations", "3", "--floats", "100003"}) {
    argv.push_back(arg);
  }
  auto mpirun = Subprocess::Spawn(argv);
  ASSERT_TRUE(mpirun.ok()) << mpirun.status();
  std::map<int, int> verified_by_rank;
  std::map<int, int> finished_by_rank;
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (true) {
    auto line = (*mpirun)->ReadLine(deadline);
    if (!line.ok()) break;
    const json event = json::parse(*line, nullptr, /*allow_exceptions=*/false);
    if (!event.is_object()) continue;
    const int rank = event.value("original_rank", -1);
    if (event.value("event", "") == "group_formed") {
      EXPECT_EQ(event.value("world", 0), 2);
    }
    if (event.value("event", "") == "allreduce_ok") ++verified_by_rank[rank];
    if (event.value("event", "") == "finished") ++finished_by_rank[rank];
  }
  EXPECT_EQ(*(*mpirun)->Wait(deadline), 0);
  EXPECT_EQ(verified_by_rank, (std::map<int, int>{{0, 3}, {1, 3}}));
  EXPECT_EQ(finished_by_rank, (std::map<int, int>{{0, 1}, {1, 1}}));
}

}  // namespace
}  // namespace cosched
