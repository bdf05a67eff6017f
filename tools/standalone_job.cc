// File: tools/standalone_job.cc
#include "tools/standalone_job.h"

#include <signal.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/cpu_affinity.h"
#include "common/status_macros.h"

namespace cosched::tools {

using nlohmann::json;

std::string SiblingBinary(const std::string& name) {
  std::error_code ec;
  return (std::filesystem::read_symlink("/proc/self/exe", ec).parent_path() / name).string();
}

absl::StatusOr<json> AwaitEvent(Subprocess& process, absl::string_view event, absl::Time deadline,
                                absl::FunctionRef<void(const std::string&)> on_other_line) {
  while (true) {
    ASSIGN_OR_RETURN(const std::string line, process.ReadLine(deadline));
    json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object() && parsed.value("event", "") == event) return parsed;
    on_other_line(line);
  }
}

absl::StatusOr<std::unique_ptr<StandaloneJob>> StandaloneJob::Start(
    const StandaloneJobOptions& options, absl::Time deadline) {
  std::filesystem::remove_all(options.dir);
  auto job = std::unique_ptr<StandaloneJob>(new StandaloneJob(options.dir));
  const std::vector<int> cpus = AllowedCpus();
  const bool bind = options.bind_to_core && options.ranks <= static_cast<int>(cpus.size());
  for (int rank = 0; rank < options.ranks; ++rank) {
    std::vector<std::string> argv = {
        SiblingBinary("cosched-worker"), "--standalone", "--job", options.job_yaml, "--bootstrap",
        "file:" + options.dir, "--rank", absl::StrCat(rank), "--world", absl::StrCat(options.ranks),
        "--inference-address", "127.0.0.1:0", "--log-level", options.log_level,
        // a fresh run every time, never a resumed one
        "--checkpoint-dir", options.dir + "/checkpoints"};
    if (bind) {
      argv.push_back("--bind-cpus");
      argv.push_back(absl::StrCat(cpus[rank]));
    }
    if (options.steps > 0) {
      argv.push_back("--steps");
      argv.push_back(absl::StrCat(options.steps));
    }
    ASSIGN_OR_RETURN(auto worker, Subprocess::Spawn(argv));
    job->workers_.push_back(std::move(worker));
  }
  for (auto& worker : job->workers_) {
    ASSIGN_OR_RETURN(const json ready, AwaitEvent(*worker, "inference_ready", deadline));
    job->addresses_.push_back(ready.value("address", ""));
  }
  return job;
}

StandaloneJob::~StandaloneJob() {
  for (auto& worker : workers_) {
    worker->Kill(SIGKILL);
    worker->Wait(absl::Now() + absl::Seconds(10)).IgnoreError();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

absl::StatusOr<std::vector<json>> StandaloneJob::AwaitFinished(
    absl::Time deadline, absl::FunctionRef<void(const std::string&)> on_rank0_line) {
  std::vector<json> finished;
  const auto ignore = [](const std::string&) {};
  for (size_t rank = 0; rank < workers_.size(); ++rank) {
    const bool leader = rank == 0;
    ASSIGN_OR_RETURN(
        json done,
        AwaitEvent(*workers_[rank], leader ? "job_finished" : "rank_finished", deadline,
                   leader ? on_rank0_line : absl::FunctionRef<void(const std::string&)>(ignore)));
    finished.push_back(std::move(done));
  }
  for (auto& worker : workers_) {
    ASSIGN_OR_RETURN(const int code, worker->Wait(deadline));
    if (code != 0) {
      return absl::InternalError(absl::StrCat(worker->name(), " exited with status ", code));
    }
  }
  return finished;
}

}  // namespace cosched::tools
