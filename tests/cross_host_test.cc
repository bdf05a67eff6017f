// File: tests/cross_host_test.cc
// End to end across emulated hosts (tests/support/test_hosts.h), real processes: the
// scheduler on host "sched", data-center workers on "dc1" and "dc2", vehicles on "car1" and
// "car2" behind 20 Mbit/s links, each host with its own address, host name and loopback.
// Every worker finds its own advertise address (the route to the scheduler) and its own host
// id (its host name), so ranks reach each other only through the hosts' addresses and never
// share memory across hosts. Covered: a 4-worker job across the four hosts succeeds; a
// data-center worker killed with SIGKILL mid-training (the survivors finish, one failure
// counted); the scheduler killed with SIGKILL, down for 4 s and restarted on its data
// directory and the same address (the workers reconnect, the job finishes in the same
// generation); `mpirun` running a standalone job on two hosts through scripts/netns-rsh,
// each rank advertising its own host's address.
//
// Needs root: without it the tests skip with the reason, and fail under CI (CI set).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "proto/scheduler.grpc.pb.h"
#include "tests/cross_host_cluster.h"
#include "tests/support/rank_events.h"
#include "tools/standalone_job.h"

namespace cosched {
namespace {

using nlohmann::json;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

class CrossHostTest : public CrossHostCluster {};

TEST_F(CrossHostTest, AFourWorkerJobAcrossFourHostsSucceeds) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  // Each worker advertises its own host's address, found by itself.
  std::set<std::string> addresses;
  for (const int host : {kDc1, kDc2, kCar1, kCar2}) {
    const std::string& advertised = advertised_[hosts_->name(host)];
    EXPECT_EQ(advertised, hosts_->address(host)) << hosts_->name(host);
    EXPECT_TRUE(InSubnet(advertised, hosts_->subnet())) << advertised << " " << hosts_->subnet();
    addresses.insert(advertised);
  }
  EXPECT_EQ(addresses.size(), 4u);

  constexpr int kSteps = 40;
  const std::string id = Submit(TestJob(4, 4, kSteps));
  ASSERT_FALSE(id.empty());
  auto job = WaitFor(id, absl::Seconds(30), [](const auto& j) {
    return (j.members_size() == 4 && j.step() >= 1) || Finished(j);
  });
  EXPECT_THAT(job.members(), UnorderedElementsAre("dc1", "dc2", "car1", "car2")) << Events(job);
  job = WaitFor(id, absl::Minutes(2), Finished);
  ASSERT_EQ(job.state(), "succeeded") << Events(job);
  EXPECT_EQ(job.generation(), 0) << Events(job);  // one generation: nobody lost on the way
  EXPECT_EQ(job.failures(), 0) << Events(job);
  EXPECT_GE(job.step(), kSteps);
}

TEST_F(CrossHostTest, ADataCenterWorkerKilledMidTrainingLeavesAndTheSurvivorsFinish) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  constexpr int kSteps = 60;
  const std::string id = Submit(TestJob(1, 4, kSteps));
  ASSERT_FALSE(id.empty());
  auto job = WaitFor(id, absl::Seconds(45), [](const auto& j) {
    return (j.members_size() == 4 && j.step() >= 10) || Finished(j);
  });
  ASSERT_EQ(job.members_size(), 4) << Events(job);
  ASSERT_EQ(job.state(), "running") << Events(job);
  // The data-center member with the lowest rank: the one that broadcasts state.
  std::string victim;
  for (const std::string& member : job.members()) {
    if (absl::StartsWith(member, "dc")) {
      victim = member;
      break;
    }
  }
  ASSERT_FALSE(victim.empty()) << Events(job);
  const int64_t generation = job.generation();
  const int64_t step_at_kill = job.step();
  workers_[victim]->Kill(SIGKILL);
  job = WaitFor(id, absl::Seconds(20), [&](const auto& j) {
    return (j.generation() > generation && j.members_size() == 3) || Finished(j);
  });
  ASSERT_EQ(job.members_size(), 3) << Events(job);
  EXPECT_THAT(job.members(), Not(::testing::Contains(victim))) << Events(job);
  EXPECT_THAT(Events(job), HasSubstr(absl::StrCat("node ", victim, " crashed")));
  job = WaitFor(id, absl::Minutes(2), Finished);
  ASSERT_EQ(job.state(), "succeeded") << Events(job);
  EXPECT_EQ(job.failures(), 1) << Events(job);
  EXPECT_GE(job.step(), kSteps);
  EXPECT_GT(job.step(), step_at_kill);
}

TEST_F(CrossHostTest, TheJobSurvivesASchedulerKilledAndRestartedOnItsAddress) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  constexpr int kSteps = 60;
  const std::string id = Submit(TestJob(4, 4, kSteps));
  ASSERT_FALSE(id.empty());
  auto job = WaitFor(id, absl::Seconds(45), [](const auto& j) {
    return (j.members_size() == 4 && j.step() >= 10) || Finished(j);
  });
  ASSERT_EQ(job.members_size(), 4) << Events(job);
  ASSERT_EQ(job.state(), "running") << Events(job);
  const int64_t generation = job.generation();
  scheduler_->Kill(SIGKILL);
  auto exited = scheduler_->Wait(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(exited.ok()) << exited.status();
  // The same address and port: the workers reconnect to where they were.
  // Down for longer than the heartbeat TTL (3 s), as a real restart may be: the workers'
  // reconnection attempts back off meanwhile, and must still reach the restarted scheduler
  // within the one TTL it gives the members of its jobs.
  absl::SleepFor(absl::Seconds(4));  // the outage itself, not a wait for an event
  ASSERT_NO_FATAL_FAILURE(StartScheduler(scheduler_address_));
  EXPECT_EQ(jobs_recovered_, 1);
  job = WaitFor(id, absl::Minutes(2), Finished);
  ASSERT_EQ(job.state(), "succeeded") << Events(job);
  // The workers kept their ranks: no crash, no restart from scratch.
  EXPECT_EQ(job.generation(), generation) << Events(job);
  EXPECT_EQ(job.failures(), 0) << Events(job);
  EXPECT_GE(job.step(), kSteps);
}

TEST_F(CrossHostTest, MpirunRunsAStandaloneJobOnTwoHosts) {
  ASSERT_NO_FATAL_FAILURE(CreateHosts({{.name = "dc1"}, {.name = "dc2"}}));
  constexpr int kSteps = 100;
  const std::string job_path = dir_.path() + "/job.yaml";
  std::ofstream(job_path) << TestJob(2, 2, kSteps);
  // Each rank advertises the address of its host's eth0 (the hosts have no default route).
  std::vector<std::string> argv = hosts_->MpirunArgv({"dc1", "dc2"}, COSCHED_NETNS_RSH);
  argv.insert(argv.end(), {"-x", "COSCHED_COLLECTIVES_INTERFACE=eth0", COSCHED_WORKER_BINARY,
                           "--standalone", "--job", job_path, "--log-level", "warn"});
  auto mpirun = hosts_->Spawn(0, argv);
  ASSERT_TRUE(mpirun.ok()) << mpirun.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  testing::RankEvents events = testing::ReadRankEvents(**mpirun, deadline);
  std::map<int, json>& finished = events.finished;
  const std::string& output = events.output;
  auto exit_code = (*mpirun)->Wait(deadline);
  ASSERT_TRUE(exit_code.ok()) << exit_code.status() << "\n" << output;
  EXPECT_EQ(*exit_code, 0) << output;
  ASSERT_EQ(finished.size(), 2u) << output;
  EXPECT_EQ(finished[0].value("event", ""), "job_finished") << output;
  EXPECT_EQ(finished[1].value("event", ""), "rank_finished") << output;
  for (int rank = 0; rank < 2; ++rank) {
    // mpirun places rank r on the r-th host of --host.
    EXPECT_EQ(finished[rank].value("advertise_address", ""), hosts_->address(rank)) << output;
    EXPECT_GE(finished[rank].value("steps", 0), kSteps) << output;
  }
  // Trained together: the same parameters on both hosts.
  EXPECT_EQ(finished[0]["parameter_crc32"], finished[1]["parameter_crc32"]) << output;
}

}  // namespace
}  // namespace cosched
