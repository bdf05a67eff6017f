// File: tools/standalone_job.h
// StandaloneJob: N cosched-worker processes training one job over a file store on this
// machine, each serving inference on an ephemeral port. Shared by the standalone demo and
// `cosched-bench inference`, which both start such a job, drive load at it and read the
// workers' JSON event lines.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"

namespace cosched::tools {

// The path of binary `name` next to the running one (build/bin/...).
std::string SiblingBinary(const std::string& name);

// Reads `process`'s stdout until a JSON line whose "event" is `event` and returns it; other
// lines go to `on_other_line` (for echoing progress).
absl::StatusOr<nlohmann::json> AwaitEvent(
    Subprocess& process, absl::string_view event, absl::Time deadline,
    absl::FunctionRef<void(const std::string&)> on_other_line = [](const std::string&) {});

struct StandaloneJobOptions {
  std::string job_yaml;
  int ranks = 2;
  int64_t steps = 0;  // 0: the job's own length
  std::string dir;    // file store and checkpoints; emptied first and removed after
  std::string log_level = "warn";
  // Rank r runs on the r-th CPU this process may use, as `mpirun --bind-to core` binds its
  // ranks; only when there are at least as many CPUs as ranks.
  bool bind_to_core = true;
};

class StandaloneJob {
 public:
  // Starts the ranks and waits until each serves inference.
  static absl::StatusOr<std::unique_ptr<StandaloneJob>> Start(const StandaloneJobOptions& options,
                                                              absl::Time deadline);
  ~StandaloneJob();  // kills ranks still running and removes the directory

  const std::vector<std::string>& inference_addresses() const { return addresses_; }
  // Waits for every rank's final line (job_finished from rank 0, rank_finished from the
  // others) and for the processes to exit with status 0. Rank 0's other lines go to
  // `on_rank0_line`.
  absl::StatusOr<std::vector<nlohmann::json>> AwaitFinished(
      absl::Time deadline,
      absl::FunctionRef<void(const std::string&)> on_rank0_line = [](const std::string&) {});

 private:
  explicit StandaloneJob(std::string dir) : dir_(std::move(dir)) {}

  std::string dir_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
  std::vector<std::string> addresses_;
};

}  // namespace cosched::tools
