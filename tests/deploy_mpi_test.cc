// File: tests/deploy_mpi_test.cc
// deploy/mpi/ for real: the shipped launcher (deploy/mpi/cosched-mpirun) runs a standalone
// job with the shipped example hostfile (deploy/mpi/hostfile, hosts node1 and node2) on two
// emulated hosts of those names (tests/support/test_hosts.h), as the README tells an operator
// to. mpirun "logs in" to the other host through scripts/netns-rsh behind a wrapper that, like
// ssh, starts the remote command with an empty environment: the worker's settings reach the
// remote rank only through the launcher's `-x COSCHED_*`. Checked: mpirun exits 0, both ranks
// finish (job_finished from rank 0, rank_finished from rank 1) with the same parameters
// (trained together), each rank advertises its own host's address (the launcher passed
// COSCHED_COLLECTIVES_INTERFACE=eth0; the hosts have no default route) and trains exactly the
// COSCHED_STEPS it was given (not the job file's 400). Also: the launcher refuses a malformed
// hostfile, naming the line, before starting anything.
//
// Needs root for the hosts: without it that test skips with the reason, and fails under CI.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "tests/support/rank_events.h"
#include "tests/support/scoped_dir.h"
#include "tests/support/test_hosts.h"

namespace cosched {
namespace {

using ::cosched::testing::ScopedDir;
using ::cosched::testing::TestHosts;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr int kSteps = 100;  // the job file says 400: COSCHED_STEPS must reach both ranks

// An rsh agent for mpirun that behaves like ssh: the remote command gets a fresh environment
// (a PATH and what netns-rsh needs to find the host), nothing of the caller's.
std::string WriteCleanRsh(const std::string& dir) {
  const std::string path = dir + "/clean-rsh";
  std::ofstream(path) << "#!/bin/sh\n"
                      << "exec env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin "
                      << "COSCHED_TEST_HOSTS_DIR=\"$COSCHED_TEST_HOSTS_DIR\" "
                      << "'" << COSCHED_NETNS_RSH << "' \"$@\"\n";
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

TEST(DeployMpiTest, TheLauncherRunsTheExampleHostfileOnTwoHosts) {
  COSCHED_REQUIRE_TEST_HOSTS();
  ScopedDir dir("deploy_mpi");
  // The hosts the example hostfile names, in its order: rank r runs on host r.
  auto hosts = TestHosts::Create({{.name = "node1"}, {.name = "node2"}});
  ASSERT_TRUE(hosts.ok()) << hosts.status();
  const std::string rsh = WriteCleanRsh(dir.path());
  // Only what an operator would set: the worker settings as COSCHED_*, mpirun's own as
  // OMPI_MCA_* (how it logs in, and Open MPI's traffic on the hosts' subnet).
  const std::vector<std::string> env = {
      "COSCHED_COLLECTIVES_INTERFACE=eth0",
      absl::StrCat("COSCHED_STEPS=", kSteps),
      "COSCHED_LOG_LEVEL=warn",
      absl::StrCat("OMPI_MCA_plm_rsh_agent=", rsh),
      "OMPI_MCA_plm_rsh_no_tree_spawn=1",
      absl::StrCat("OMPI_MCA_oob_tcp_if_include=", (*hosts)->subnet()),
      absl::StrCat("OMPI_MCA_btl_tcp_if_include=", (*hosts)->subnet()),
      "OMPI_MCA_btl=tcp,self",
      "OMPI_MCA_pml=ob1",
      "OMPI_ALLOW_RUN_AS_ROOT=1",
      "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
  };
  auto launcher = (*hosts)->Spawn(0,
                                  {COSCHED_MPI_LAUNCHER, "--worker", COSCHED_WORKER_BINARY,
                                   COSCHED_MPI_HOSTFILE, COSCHED_TEST_JOB},
                                  env);
  ASSERT_TRUE(launcher.ok()) << launcher.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  testing::RankEvents events = testing::ReadRankEvents(**launcher, deadline);
  std::map<int, json>& finished = events.finished;
  const std::string& output = events.output;
  auto exit_code = (*launcher)->Wait(deadline);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status() << "\n" << output;
  EXPECT_EQ(*exit_code, 0) << output;
  ASSERT_EQ(finished.size(), 2u) << output;
  EXPECT_EQ(finished[0].value("event", ""), "job_finished") << output;
  EXPECT_EQ(finished[1].value("event", ""), "rank_finished") << output;
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_EQ(finished[rank].value("advertise_address", ""), (*hosts)->address(rank))
        << "rank " << rank << "\n"
        << output;
    EXPECT_EQ(finished[rank].value("steps", 0), kSteps) << "rank " << rank << "\n" << output;
  }
  // Trained together: the same parameters on both hosts.
  ASSERT_TRUE(finished[0].contains("parameter_crc32")) << output;
  EXPECT_EQ(finished[0]["parameter_crc32"], finished[1]["parameter_crc32"]) << output;
}

TEST(DeployMpiTest, TheLauncherRefusesAMalformedHostfile) {
  ScopedDir dir("deploy_mpi_bad");
  const std::string hostfile = dir.path() + "/hostfile";
  std::ofstream(hostfile) << "# a typo: slot= for slots=\nnode1 slots=1\nnode2 slot=1\n";
  Subprocess::Options options;
  options.merge_stderr = true;
  options.null_stdin = true;
  auto launcher = Subprocess::Spawn(
      {COSCHED_MPI_LAUNCHER, "--worker", COSCHED_WORKER_BINARY, hostfile, COSCHED_TEST_JOB},
      options);
  ASSERT_TRUE(launcher.ok()) << launcher.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  auto output = (*launcher)->ReadAll(deadline);
  ASSERT_TRUE(output.ok()) << output.status();
  auto exit_code = (*launcher)->Wait(deadline);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 2) << *output;
  EXPECT_THAT(*output, HasSubstr(hostfile + ":3: expected 'NAME [slots=N]'"));
}

}  // namespace
}  // namespace cosched
