// File: bench/allreduce_bench.cc
#include "bench/allreduce_bench.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench/allreduce_rank.h"
#include "bench/bench_hosts.h"
#include "bench/process.h"
#include "bench/rank_options.h"
#include "bench/samples.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/units.h"

namespace cosched::bench {
namespace {

// One group of processes started once per round.
struct LaunchPlan {
  Launch kind;
  std::string name;  // "gloo", "mpi-shm", "mpi-tcp"
  std::vector<std::string> impls;
};

std::vector<LaunchPlan> PlanLaunches(const std::vector<Impl>& impls) {
  std::vector<LaunchPlan> plans;
  for (const Impl& impl : impls) {
    auto it = std::find_if(plans.begin(), plans.end(),
                           [&](const LaunchPlan& p) { return p.kind == impl.launch; });
    if (it == plans.end()) {
      const std::string name = impl.launch == Launch::kGlooRanks ? "gloo" : impl.name;
      plans.push_back({impl.launch, name, {}});
      it = plans.end() - 1;
    }
    it->impls.push_back(impl.name);
  }
  return plans;
}

// Other work on the machine perturbs every number; say so up front when there is some.
void WarnIfBusy() {
  std::ifstream loadavg("/proc/loadavg");
  double one_minute = 0;
  if (loadavg >> one_minute && one_minute > 0.5) {
    spdlog::warn(
        "1-minute load average is {:.2f} before starting: other work on this machine "
        "will perturb the results",
        one_minute);
  }
}

std::vector<std::string> MpirunArgs(const std::string& mpirun, Launch kind, int ranks) {
  std::vector<std::string> args = {mpirun,      "-np", absl::StrCat(ranks), "--oversubscribe",
                                   "--bind-to", "none"};
  if (::geteuid() == 0) args.push_back("--allow-run-as-root");
  if (kind == Launch::kMpiShm) {
    args.insert(args.end(), {"--mca", "pml", "ob1", "--mca", "btl", "self,vader"});
  } else {
    args.insert(args.end(), {"--mca", "pml", "ob1", "--mca", "btl", "self,tcp", "--mca",
                             "btl_tcp_if_include", "lo"});
  }
  return args;
}

class Launcher {
 public:
  // `hosts` is null when every rank runs on this machine (--hosts 1).
  Launcher(const BenchOptions& options, std::string self, std::string mpirun, std::string dir,
           const BenchHosts* hosts)
      : options_(options),
        self_(std::move(self)),
        mpirun_(std::move(mpirun)),
        dir_(std::move(dir)),
        hosts_(hosts) {}

  // Runs one launch of `plan` in round `round` and adds its samples (max over ranks).
  absl::Status Run(const LaunchPlan& plan, int round) {
    RankOptions rank_options;
    rank_options.ranks = options_.ranks;
    rank_options.dir = absl::StrCat(dir_, "/round", round, "-", plan.name);
    rank_options.launch_name = plan.name;
    rank_options.round = round;
    rank_options.sizes = options_.sizes;
    rank_options.impls = plan.impls;
    rank_options.timing = options_.timing;
    rank_options.op_timeout = options_.op_timeout;
    std::error_code ec;
    std::filesystem::create_directories(rank_options.dir, ec);
    if (ec)
      return absl::UnavailableError(absl::StrCat("mkdir ", rank_options.dir, ": ", ec.message()));
    std::vector<ChildSpec> children;
    if (plan.kind == Launch::kGlooRanks) {
      for (int rank = 0; rank < options_.ranks; ++rank) {
        rank_options.rank = rank;
        if (hosts_ != nullptr) rank_options.advertise_address = hosts_->RankAddress(rank);
        std::vector<std::string> argv = {self_, kGlooRankCommand};
        for (std::string& arg : ToRankArgs(rank_options)) argv.push_back(std::move(arg));
        if (hosts_ != nullptr) argv = hosts_->WrapRank(rank, argv);
        children.push_back({absl::StrCat("gloo rank ", rank), std::move(argv)});
      }
    } else {
      std::vector<std::string> argv = hosts_ != nullptr
                                          ? hosts_->MpirunArgv(mpirun_, plan.kind)
                                          : MpirunArgs(mpirun_, plan.kind, options_.ranks);
      argv.insert(argv.end(), {self_, kMpiRankCommand});
      for (std::string& arg : ToRankArgs(rank_options)) argv.push_back(std::move(arg));
      children.push_back({absl::StrCat("mpirun for ", plan.name), std::move(argv)});
    }
    RETURN_IF_ERROR(RunChildren(children, options_.launch_timeout));

    std::map<std::pair<std::string, uint64_t>, double> slowest;
    for (int rank = 0; rank < options_.ranks; ++rank) {
      ASSIGN_OR_RETURN(std::vector<Sample> samples,
                       ReadSamples(SamplePath(rank_options.dir, plan.name, rank)));
      for (const Sample& s : samples) {
        double& seconds = slowest[{s.impl, s.size_bytes}];
        seconds = std::max(seconds, s.seconds);
      }
    }
    const size_t expected = plan.impls.size() * options_.sizes.size();
    if (slowest.size() != expected) {
      return absl::DataLossError(absl::StrCat(plan.name, " ranks reported ", slowest.size(),
                                              " samples, expected ", expected));
    }
    for (const auto& [key, seconds] : slowest) samples_[key].push_back(seconds);
    return absl::OkStatus();
  }

  const std::map<std::pair<std::string, uint64_t>, std::vector<double>>& samples() const {
    return samples_;
  }

 private:
  const BenchOptions& options_;
  const std::string self_;
  const std::string mpirun_;
  const std::string dir_;
  const BenchHosts* const hosts_;
  std::map<std::pair<std::string, uint64_t>, std::vector<double>> samples_;
};

}  // namespace

absl::StatusOr<std::vector<Result>> RunAllreduceBench(const BenchOptions& options) {
  ASSIGN_OR_RETURN(const std::vector<Impl> impls,
                   SelectImpls(options.impls, options.ranks, options.hosts));
  const std::vector<LaunchPlan> plans = PlanLaunches(impls);
  std::string mpirun;
  if (std::any_of(plans.begin(), plans.end(),
                  [](const LaunchPlan& p) { return p.kind != Launch::kGlooRanks; })) {
    absl::StatusOr<std::string> found = FindOnPath("mpirun");
    if (!found.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(found.status().message(),
                       "; install Open MPI or leave mpi-shm and mpi-tcp out of "
                       "--impls"));
    }
    mpirun = *found;
  }
  ASSIGN_OR_RETURN(const std::string self, SelfExecutable());
  ASSIGN_OR_RETURN(TempDir dir, TempDir::Create("cosched-bench"));
  // Made once for all rounds (setting hosts up takes a while and is not what is measured);
  // declared after `dir`, so the hosts, and whatever still runs in them, go first.
  std::unique_ptr<BenchHosts> hosts;
  if (options.hosts > 1) {
    ASSIGN_OR_RETURN(hosts, BenchHosts::Create(options.hosts, options.ranks, options.link_mbit,
                                               COSCHED_NETNS_RSH));
  }

  std::vector<std::string> size_names;
  for (uint64_t size : options.sizes) size_names.push_back(FormatByteSize(size));
  spdlog::info("allreduce: {} ranks on {}, sizes {}, {} rounds of {} launches; {} impls",
               options.ranks, DescribePlacement(options.ranks, options.hosts, options.link_mbit),
               absl::StrJoin(size_names, ","), options.reps, plans.size(), impls.size());

  WarnIfBusy();
  Launcher launcher(options, self, mpirun, dir.path(), hosts.get());
  const absl::Time start = absl::Now();
  for (int round = 0; round < options.reps; ++round) {
    std::vector<LaunchPlan> order = plans;
    std::rotate(order.begin(), order.begin() + round % order.size(), order.end());
    for (const LaunchPlan& plan : order) {
      const absl::Time launch_start = absl::Now();
      absl::Status status = launcher.Run(plan, round);
      if (!status.ok()) {
        return absl::Status(status.code(), absl::StrCat("round ", round + 1, ", ", plan.name,
                                                        " launch: ", status.message()));
      }
      spdlog::info(
          "round {}/{}: {} ({} impls) took {}", round + 1, options.reps, plan.name,
          plan.impls.size(),
          absl::FormatDuration(absl::Trunc(absl::Now() - launch_start, absl::Milliseconds(100))));
    }
  }
  spdlog::info("all rounds took {}",
               absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1))));

  std::vector<Result> results;
  for (uint64_t size : options.sizes) {
    for (const Impl& impl : impls) {
      const auto it = launcher.samples().find({impl.name, size});
      if (it == launcher.samples().end()) {
        return absl::InternalError(absl::StrCat("no samples for ", impl.name, " at ", size));
      }
      ASSIGN_OR_RETURN(Summary summary, Summarize(it->second));
      results.push_back({impl, size, static_cast<int>(it->second.size()), summary});
    }
  }
  return results;
}

}  // namespace cosched::bench
