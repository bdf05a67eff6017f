// File: tools/cosched_up/main.cc
// cosched up: a whole cosched cluster on this machine, as processes: one cosched-scheduler,
// N data-center workers and M vehicle workers whose availability is replayed from the ACN
// charging trace (time compressed) or a fleet script (configs/fleet/). It prints the
// scheduler's address and runs until interrupted.
//
// Everything speaks mutual TLS: the scheduler, every worker and cosched up's own client use
// certificates of a development CA in ./cosched-certs (tls::DevelopmentPki, created on the
// first run and reused after), the directory a later `coschedctl` run here finds by itself
// (its CA and the admin client). The scheduler takes clients' tokens from
// ./cosched-certs/tokens.yaml (`coschedctl certs token NAME --role ROLE`). --insecure runs
// everything in plaintext instead.
//
// With --demo it also submits the Fashion-MNIST job, drives inference with deadlines at the
// scheduler, shows live progress (members, generation, step, accuracy, deadline attainment,
// vehicles) and ends when the job does, with one JSON line:
//   {"event":"demo_finished","test_accuracy":...,"inference_accuracy":...,
//    "served_versions":{"<model>@<step>":answers,...},"deadline_attainment":...,
//    "membership_changes":...,"preemptions":...,"outer_rounds":...,
//    "vehicle_bytes_per_sample":...,"wall_seconds":...}
// (outer rounds and bytes per sample over vehicle links are the job's edge tier's: vehicles
// on slow links train as replicas of their own, tools/cosched_up/edge_report.h).
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/flags.h"
#include "common/logging.h"
#include "common/mutex.h"
#include "common/status_macros.h"
#include "common/subprocess.h"
#include "common/termination_signals.h"
#include "common/tls/credentials.h"
#include "common/tls/dev_pki.h"
#include "nlohmann/json.hpp"
#include "proto/scheduler.grpc.pb.h"
#include "tools/cosched_up/edge_report.h"
#include "tools/cosched_up/fleet.h"
#include "tools/inference_load.h"
#include "tools/standalone_job.h"
#include "worker/data/idx_reader.h"
#include "yaml-cpp/yaml.h"

namespace cosched::tools {
namespace {

using nlohmann::json;

constexpr char kDefaultFleet[] =
    "trace:../shared/data/traces/ev_charging/acn_caltech_2021_sessions.json";
constexpr char kFallbackFleet[] = "configs/fleet/demo.yaml";
// Relative to the working directory, where coschedctl looks for it (tools/coschedctl/
// connection.h), like the job, config and fleet paths.
constexpr char kCertificateDir[] = "cosched-certs";

struct UpFlags {
  int64_t datacenter = 2;
  int64_t vehicles = 3;
  std::string fleet = kDefaultFleet;
  std::string compression = "1200";  // trace seconds per real second
  std::string dir;                   // default: a fresh directory under /tmp
  bool demo = false;
  std::string job = "configs/jobs/fashion-mlp.yaml";
  std::string config = "configs/scheduler.yaml";
  std::string rate = "40";  // inference requests per second (demo)
  absl::Duration deadline = absl::Milliseconds(100);
  absl::Duration timeout = absl::Minutes(5);
  // Non-zero: the scheduler serves /metrics on 127.0.0.1:metrics_port and worker i (from 0)
  // on metrics_port + 1 + i, the layout deploy/prometheus/prometheus.yml scrapes.
  int64_t metrics_port = 0;
  bool insecure = false;  // plaintext everywhere, no certificates
};

// The TLS settings of the cluster's processes: each one's flags come from here.
class ClusterTls {
 public:
  static absl::StatusOr<ClusterTls> Create(bool insecure) {
    if (insecure) {
      tls::WarnInsecure("cosched up (the scheduler, its workers and its client)");
      return ClusterTls(std::nullopt);
    }
    ASSIGN_OR_RETURN(tls::DevelopmentPki pki, tls::DevelopmentPki::Create(kCertificateDir));
    ClusterTls cluster(std::move(pki));
    // coschedctl's default client in ./cosched-certs, and the one cosched up itself uses.
    ASSIGN_OR_RETURN(const tls::TlsFlags admin, cluster.pki_->Client("admin", tls::Role::kAdmin));
    cluster.admin_ = cluster.WithCrl(admin);
    return cluster;
  }

  bool secure() const { return pki_.has_value(); }
  // The scheduler's TLS flags, and the token file coschedctl certs token appends to.
  std::vector<std::string> SchedulerArgs() const {
    if (!secure()) return {"--insecure"};
    std::vector<std::string> args = tls::DevelopmentPki::Args(WithCrl(pki_->Scheduler()));
    args.insert(args.end(), {"--tokens", absl::StrCat(pki_->dir(), "/tokens.yaml")});
    return args;
  }
  // Node `id`'s TLS flags (its certificate is issued now unless it exists).
  absl::StatusOr<std::vector<std::string>> NodeArgs(const std::string& id,
                                                    const std::string& kind) const {
    if (!secure()) return std::vector<std::string>{"--insecure"};
    ASSIGN_OR_RETURN(const tls::TlsFlags node, pki_->Node(id, kind));
    return tls::DevelopmentPki::Args(WithCrl(node));
  }
  // cosched up's own client of the scheduler: the admin client (or --insecure).
  const tls::TlsFlags& ClientFlags() const { return admin_; }
  std::shared_ptr<grpc::ChannelCredentials> ClientCredentials() const {
    return tls::SchedulerChannelCredentials(admin_);
  }
  // coschedctl's flags for the same client, for the commands cosched up suggests.
  std::string CoschedctlArgs() const {
    if (!secure()) return "--insecure";
    return absl::StrCat("--tls-ca ", admin_.ca_file, " --tls-cert ", admin_.cert_file,
                        " --tls-key ", admin_.key_file);
  }
  std::string Summary() const {
    return secure() ? absl::StrCat("TLS: mutual (certificates in ./", pki_->dir(), ")")
                    : "TLS: off (--insecure)";
  }

 private:
  // The CRL `coschedctl certs revoke` writes, even before it exists (nothing is revoked
  // then): the processes read it again whenever it changes, so a revocation takes effect
  // while they run.
  tls::TlsFlags WithCrl(tls::TlsFlags flags) const {
    flags.crl_file = absl::StrCat(pki_->dir(), "/crl.pem");
    return flags;
  }

  explicit ClusterTls(std::optional<tls::DevelopmentPki> pki) : pki_(std::move(pki)) {
    admin_.insecure = !pki_.has_value();
  }

  std::optional<tls::DevelopmentPki> pki_;
  tls::TlsFlags admin_;
};

// The demo lasts about half a minute, in which the production timers of inference-driven
// preemption (demand counted over 10 s, a node held 30 s before it can be taken) would never
// fire. The demo's scheduler runs `config` with them shortened, written to `dir`.
absl::StatusOr<std::string> WriteDemoSchedulerConfig(const std::string& config,
                                                     const std::string& dir) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(config);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(config, ": ", e.what()));
  }
  if (!root["scheduler"].IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(config, ": no 'scheduler' map"));
  }
  YAML::Node preemption = root["scheduler"]["preemption"];
  preemption["window"] = "5s";
  preemption["reclaim_interval"] = "3s";
  preemption["give_back_after"] = "8s";
  preemption["min_hold"] = "5s";
  const std::string path = dir + "/scheduler-demo.yaml";
  YAML::Emitter out;
  out << root;
  std::ofstream(path) << "# " << config << " with the demo's preemption timings\n"
                      << out.c_str() << "\n";
  return path;
}

// "--metrics-address 127.0.0.1:P" for the process at `offset` past --metrics-port, if set.
std::vector<std::string> MetricsArgs(const UpFlags& flags, int offset) {
  if (flags.metrics_port == 0) return {};
  return {"--metrics-address", absl::StrCat("127.0.0.1:", flags.metrics_port + offset)};
}

// Writes each vehicle's state file as the fleet timeline unfolds.
class FleetReplayer {
 public:
  FleetReplayer(FleetTimeline timeline, std::string dir)
      : timeline_(std::move(timeline)),
        dir_(std::move(dir)),
        start_(absl::Now()),
        parked_(timeline_.vehicles.size(), false) {
    Apply(absl::ZeroDuration());  // the state at time 0 exists before any worker starts
    thread_ = std::thread([this] { Run(); });
  }
  ~FleetReplayer() {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      wake_.SignalAll();
    }
    thread_.join();
  }
  std::string StatePath(int vehicle) const {
    return dir_ + "/" + timeline_.vehicles[vehicle] + ".yaml";
  }
  const std::vector<std::string>& vehicles() const { return timeline_.vehicles; }
  // Vehicles parked now, as last written to their state files.
  int ParkedNow() const ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    return static_cast<int>(std::count(parked_.begin(), parked_.end(), true));
  }

 private:
  // Writes every event due by `until`; returns when the next one is due.
  std::optional<absl::Duration> Apply(absl::Duration until) {
    while (next_ < timeline_.events.size() && timeline_.events[next_].at <= until) {
      const FleetEvent& event = timeline_.events[next_++];
      const std::string path = StatePath(event.vehicle);
      std::ofstream(path + ".tmp") << VehicleStateYaml(event.state);
      std::filesystem::rename(path + ".tmp", path);
      MutexLock lock(&mu_);
      parked_[event.vehicle] = event.state.parked;
    }
    if (next_ >= timeline_.events.size()) return std::nullopt;
    return timeline_.events[next_].at;
  }
  void Run() {
    while (true) {
      const std::optional<absl::Duration> due = Apply(absl::Now() - start_);
      MutexLock lock(&mu_);
      const absl::Time wake = due.has_value() ? start_ + *due : absl::InfiniteFuture();
      while (!stopping_ && !wake_.WaitWithDeadline(&mu_, wake)) {
      }
      if (stopping_) return;
    }
  }

  const FleetTimeline timeline_;
  const std::string dir_;
  const absl::Time start_;
  size_t next_ = 0;  // touched by the constructor, then only by the thread
  mutable Mutex mu_;
  CondVar wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<bool> parked_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

absl::StatusOr<FleetTimeline> LoadFleet(const UpFlags& flags, absl::Duration span) {
  if (flags.vehicles == 0) return FleetTimeline{};  // data-center workers only
  if (absl::StartsWith(flags.fleet, "script:")) return LoadFleetScript(flags.fleet.substr(7));
  if (flags.fleet == kDefaultFleet && !std::filesystem::exists(flags.fleet.substr(6))) {
    // The traces live next to the repository, not in it; without them, the scripted fleet.
    std::printf("(%s not found: using the scripted fleet %s)\n", flags.fleet.substr(6).c_str(),
                kFallbackFleet);
    return LoadFleetScript(kFallbackFleet);
  }
  if (absl::StartsWith(flags.fleet, "trace:")) {
    double compression = 0;
    if (!absl::SimpleAtod(flags.compression, &compression) || compression <= 0) {
      return absl::InvalidArgumentError("--compression must be a positive number");
    }
    return LoadAcnTrace(flags.fleet.substr(6), static_cast<int>(flags.vehicles), compression, span);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--fleet '", flags.fleet, "' is neither trace:PATH nor script:PATH"));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs the demo against a cluster that is up; returns the demo_finished line.
absl::StatusOr<json> RunDemo(const UpFlags& flags, const std::string& address,
                             const ClusterTls& cluster_tls, const FleetReplayer& fleet,
                             absl::Time start) {
  auto stub = cosched::v1::Scheduler::NewStub(
      grpc::CreateChannel(address, cluster_tls.ClientCredentials()));
  const std::string yaml = ReadFile(flags.job);
  if (yaml.empty()) return absl::NotFoundError(absl::StrCat("cannot read job ", flags.job));
  cosched::v1::SubmitJobRequest submit;
  submit.set_job_yaml(yaml);
  cosched::v1::SubmitJobReply submitted;
  {
    grpc::ClientContext context;
    const grpc::Status status = stub->SubmitJob(&context, submit, &submitted);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("submit: ", status.error_message()));
    }
  }
  const std::string job_id = submitted.job_id();
  std::printf("submitted %s as %s; inference at %s req/s with a %s deadline via the scheduler\n",
              flags.job.c_str(), job_id.c_str(), flags.rate.c_str(),
              absl::FormatDuration(flags.deadline).c_str());
  ASSIGN_OR_RETURN(const worker::FashionMnist data, worker::LoadFashionMnist());
  LoadOptions load;
  load.targets = {address};
  load.via_scheduler = true;
  load.tls = cluster_tls.ClientFlags();
  if (!absl::SimpleAtod(flags.rate, &load.rate_per_second) || load.rate_per_second <= 0) {
    return absl::InvalidArgumentError("--rate must be a positive number");
  }
  load.deadline = flags.deadline;
  load.duration = flags.timeout;
  load.images = &data.test;
  std::atomic<bool> stop{false};
  load.stop = &stop;
  absl::StatusOr<LoadReport> report = absl::UnknownError("load did not run");
  std::thread driver([&] { report = RunInferenceLoad(load); });

  cosched::v1::JobStatus job;
  TierSightings tiers;
  const absl::Time deadline = start + flags.timeout;
  while (absl::Now() < deadline) {
    grpc::ClientContext context;
    cosched::v1::GetJobRequest get;
    get.set_job_id(job_id);
    if (!stub->GetJob(&context, get, &job).ok()) break;
    tiers.Observe(job);
    const int parked = fleet.ParkedNow();
    // Members in the synchronous group, then "+" the edge tier's.
    const int group = job.members_size() - job.edge_members_size();
    std::string members = absl::StrJoin(job.members().begin(), job.members().begin() + group, ",");
    if (job.edge_members_size() > 0) {
      absl::StrAppend(&members, " + ", absl::StrJoin(job.edge_members(), ","));
    }
    std::printf(
        "%5.0fs  %-9s gen %-3lld members %-34s step %6lld  acc %s  rounds %-4lld vehicles "
        "parked %d/%zu\n",
        absl::ToDoubleSeconds(absl::Now() - start), job.state().c_str(),
        static_cast<long long>(job.generation()), members.c_str(),
        static_cast<long long>(job.step()),
        job.test_accuracy() < 0 ? "  -   " : absl::StrFormat("%.4f", job.test_accuracy()).c_str(),
        static_cast<long long>(job.edge().outer_rounds()), parked, fleet.vehicles().size());
    std::fflush(stdout);
    if (job.state() == "succeeded" || job.state() == "failed" || job.state() == "cancelled") break;
    absl::SleepFor(absl::Seconds(2));  // progress display cadence
  }
  stop = true;
  driver.join();
  RETURN_IF_ERROR(report.status());
  // Events read "generation G: ..." for each generation (0 is the admission) and
  // "node N reclaimed: ..." for each node taken for inference (the generation it causes
  // repeats that reason, so only the node events count).
  int generations = 0, preemptions = 0;
  for (const auto& event : job.events()) {
    if (absl::StartsWith(event.what(), "generation ")) ++generations;
    if (absl::StartsWith(event.what(), "node ") &&
        absl::StrContains(event.what(), " reclaimed: ")) {
      ++preemptions;
    }
  }
  const int membership_changes = std::max(generations - 1, 0);
  std::printf("\njob %s %s: test accuracy %.4f after %lld steps, %d generations\n", job_id.c_str(),
              job.state().c_str(), job.test_accuracy(), static_cast<long long>(job.step()),
              generations);
  for (const auto& event : job.events()) std::printf("  %s\n", event.what().c_str());
  std::printf(
      "inference: %lld sent, %lld answered, %lld refused, %lld unavailable, %lld errors; "
      "deadline attainment %.4f; latency p50 %.1f ms, p99 %.1f ms\n",
      static_cast<long long>(report->sent), static_cast<long long>(report->admitted),
      static_cast<long long>(report->refused), static_cast<long long>(report->unavailable),
      static_cast<long long>(report->errors), report->deadline_attainment(),
      Percentile(report->latency_ms, 50), Percentile(report->latency_ms, 99));
  // Answers scored against the test labels, next to the job's own test accuracy: early
  // answers come from early versions, so they score below the final model.
  // Versions are "model@step": the human line names each model's range of steps (the JSON
  // line has every version with its count).
  std::map<std::string, std::pair<int64_t, int64_t>> steps;  // model -> first, last step
  for (const auto& [version, answers] : report->answers_by_version) {
    const size_t at = version.rfind('@');
    int64_t step = 0;
    if (at == std::string::npos || !absl::SimpleAtoi(version.substr(at + 1), &step)) continue;
    auto [range, fresh] = steps.try_emplace(version.substr(0, at), step, step);
    range->second.first = std::min(range->second.first, step);
    range->second.second = std::max(range->second.second, step);
  }
  std::vector<std::string> served;
  for (const auto& [model, range] : steps) {
    served.push_back(absl::StrCat(model, " steps ", range.first, "-", range.second));
  }
  std::printf(
      "inference accuracy %.4f over %lld answers (job test accuracy %.4f) from %zu versions: "
      "%s\n",
      report->accuracy(), static_cast<long long>(report->admitted), job.test_accuracy(),
      report->answers_by_version.size(),
      served.empty() ? "none" : absl::StrJoin(served, ", ").c_str());
  ASSIGN_OR_RETURN(const EdgeReport edge, ReportEdgeTier(job, yaml, tiers));
  std::printf("%s", edge.text.c_str());
  if (job.state() != "succeeded") {
    return absl::DeadlineExceededError(absl::StrCat("job ", job_id, " is ", job.state(), " after ",
                                                    absl::FormatDuration(flags.timeout)));
  }
  return json({{"event", "demo_finished"},
               {"test_accuracy", job.test_accuracy()},
               {"inference_accuracy", report->accuracy()},
               {"served_versions", report->answers_by_version},
               {"deadline_attainment", report->deadline_attainment()},
               {"inference_answered", report->admitted},
               {"inference_refused", report->refused},
               {"membership_changes", membership_changes},
               {"preemptions", preemptions},
               {"outer_rounds", edge.outer_rounds},
               {"vehicle_bytes_per_sample", edge.vehicle_bytes_per_sample},
               {"wall_seconds", absl::ToDoubleSeconds(absl::Now() - start)}});
}

absl::Status Up(const UpFlags& flags) {
  const absl::Time start = absl::Now();
  const std::string dir =
      flags.dir.empty()
          ? (std::filesystem::temp_directory_path() / absl::StrCat("cosched-up-", ::getpid()))
                .string()
          : flags.dir;
  std::filesystem::create_directories(dir);
  ASSIGN_OR_RETURN(const ClusterTls cluster_tls, ClusterTls::Create(flags.insecure));
  ASSIGN_OR_RETURN(FleetTimeline timeline, LoadFleet(flags, flags.timeout));
  FleetReplayer fleet(std::move(timeline), dir);
  std::string config = flags.config;
  if (flags.demo) {
    ASSIGN_OR_RETURN(config, WriteDemoSchedulerConfig(flags.config, dir));
    std::printf("scheduler config: %s with preemption timings for a short demo (%s)\n",
                flags.config.c_str(), config.c_str());
  }

  std::vector<std::string> scheduler_argv = {SiblingBinary("cosched-scheduler"),
                                             "--listen",
                                             "127.0.0.1:0",
                                             "--config",
                                             config,
                                             "--data-dir",
                                             dir + "/scheduler",
                                             "--log-level",
                                             "warn"};
  for (std::string& arg : MetricsArgs(flags, 0)) scheduler_argv.push_back(std::move(arg));
  for (std::string& arg : cluster_tls.SchedulerArgs()) scheduler_argv.push_back(std::move(arg));
  ASSIGN_OR_RETURN(auto scheduler, Subprocess::Spawn(scheduler_argv));
  ASSIGN_OR_RETURN(const json ready,
                   AwaitEvent(*scheduler, "scheduler_ready", absl::Now() + absl::Seconds(30)));
  const std::string address = ready.value("address", "");
  std::vector<std::unique_ptr<Subprocess>> workers;
  auto start_worker = [&](const std::string& id, const std::string& kind,
                          const std::string& state_file) -> absl::Status {
    std::vector<std::string> argv = {SiblingBinary("cosched-worker"),
                                     "--scheduler",
                                     address,
                                     "--node-id",
                                     id,
                                     "--kind",
                                     kind,
                                     "--work-dir",
                                     dir + "/work",
                                     "--zone",
                                     kind == "vehicle" ? "depot" : "dc",
                                     "--link-mbps",
                                     kind == "vehicle" ? "100" : "1000",
                                     "--log-level",
                                     "warn"};
    if (!state_file.empty()) {
      argv.push_back("--vehicle-state");
      argv.push_back(state_file);
    }
    for (std::string& arg : MetricsArgs(flags, 1 + static_cast<int>(workers.size()))) {
      argv.push_back(std::move(arg));
    }
    ASSIGN_OR_RETURN(std::vector<std::string> tls_args, cluster_tls.NodeArgs(id, kind));
    for (std::string& arg : tls_args) argv.push_back(std::move(arg));
    Subprocess::Options options;
    options.capture_stdout = true;  // the workers' own lines stay out of the display
    ASSIGN_OR_RETURN(auto worker, Subprocess::Spawn(argv, options));
    workers.push_back(std::move(worker));
    return absl::OkStatus();
  };
  for (int i = 0; i < flags.datacenter; ++i) {
    RETURN_IF_ERROR(start_worker(absl::StrCat("dc-", i + 1), "datacenter", ""));
  }
  for (size_t v = 0; v < fleet.vehicles().size(); ++v) {
    RETURN_IF_ERROR(
        start_worker(fleet.vehicles()[v], "vehicle", fleet.StatePath(static_cast<int>(v))));
  }
  std::printf(
      "cosched up: scheduler at %s, %lld datacenter workers, %zu vehicles (%s), state in %s\n",
      address.c_str(), static_cast<long long>(flags.datacenter), fleet.vehicles().size(),
      flags.fleet.c_str(), dir.c_str());
  std::printf("  %s\n", cluster_tls.Summary().c_str());
  std::printf("  try: build/bin/coschedctl --scheduler %s %s get nodes\n", address.c_str(),
              cluster_tls.CoschedctlArgs().c_str());
  if (cluster_tls.secure()) {
    std::printf("       (run here, coschedctl finds ./%s by itself: --scheduler is enough)\n",
                kCertificateDir);
  }
  if (flags.metrics_port != 0) {
    std::printf("  metrics: scheduler at 127.0.0.1:%lld/metrics, workers at ports %lld-%lld\n",
                static_cast<long long>(flags.metrics_port),
                static_cast<long long>(flags.metrics_port + 1),
                static_cast<long long>(flags.metrics_port + workers.size()));
  }
  std::printf("\n");
  std::fflush(stdout);
  absl::StatusOr<json> finished = json();
  if (flags.demo) {
    finished = RunDemo(flags, address, cluster_tls, fleet, start);
  } else {
    WaitForTerminationSignal();
  }
  workers.clear();
  scheduler.reset();
  if (flags.dir.empty()) std::filesystem::remove_all(dir);
  RETURN_IF_ERROR(finished.status());
  if (flags.demo) {
    std::printf("%s\n%s\n", cluster_tls.Summary().c_str(), finished->dump().c_str());
  }
  return absl::OkStatus();
}

int Main(int argc, char** argv) {
  BlockTerminationSignals();
  UpFlags flags;
  FlagParser parser("cosched up");
  parser.Int("datacenter", &flags.datacenter, "data-center workers");
  parser.Int("vehicles", &flags.vehicles,
             "vehicle workers (trace fleets); 0: data-center workers only, whatever --fleet");
  parser.String("fleet", &flags.fleet, "trace:ACN_JSON or script:FLEET_YAML");
  parser.String("compression", &flags.compression, "trace seconds per real second");
  parser.String("dir", &flags.dir, "state directory (default: a fresh one under /tmp)");
  parser.Bool("demo", &flags.demo, "submit the job, drive inference, report and exit");
  parser.String("job", &flags.job, "job YAML for --demo");
  parser.String("config", &flags.config,
                "scheduler config (--demo shortens its preemption timers to fit the demo)");
  parser.String("rate", &flags.rate, "inference requests per second for --demo");
  parser.Duration("deadline", &flags.deadline, "inference deadline for --demo");
  parser.Duration("timeout", &flags.timeout, "how long --demo may take");
  parser.Int("metrics-port", &flags.metrics_port,
             "serve /metrics: the scheduler on this port, worker i on port+1+i (0: off)");
  parser.Bool("insecure", &flags.insecure,
              "plaintext and unauthenticated everywhere (default: mutual TLS with certificates "
              "in ./cosched-certs)");
  // `cosched up ...`: the subcommand word is positional.
  if (std::optional<int> exit_code = parser.ParseOrExitCode(argc, argv)) return *exit_code;
  if (parser.positional().size() != 1 || parser.positional()[0] != "up") {
    std::fprintf(stderr, "usage: cosched up [--demo] [flags]\n%s", parser.Usage().c_str());
    return 2;
  }
  if (absl::Status s = InitLogging("warn", "cosched"); !s.ok()) return 2;
  if (flags.metrics_port < 0 || flags.metrics_port > 65535 - flags.datacenter - flags.vehicles) {
    std::fprintf(stderr, "cosched up: --metrics-port must leave room for every worker's port\n");
    return 2;
  }
  if (flags.datacenter < 0 || flags.vehicles < 0) {
    std::fprintf(stderr, "cosched up: --datacenter and --vehicles must be >= 0\n");
    return 2;
  }
  if (flags.datacenter + flags.vehicles == 0) {
    std::fprintf(stderr,
                 "cosched up: --datacenter 0 and --vehicles 0 leave no worker to train on\n");
    return 2;
  }
  if (absl::Status s = Up(flags); !s.ok()) {
    std::fprintf(stderr, "cosched up: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cosched::tools

int main(int argc, char** argv) { return cosched::tools::Main(argc, argv); }
