// File: common/job_config.h
// JobConfig: a training job as its YAML file describes it (configs/jobs/fashion-mlp.yaml is
// the documented example). Every error names the file, the line, the field and the reason.
//
// The job spec is plain data shared by both sides: the scheduler parses a submitted job's
// YAML with it (placement settings, and a bad job is refused at submission), and the worker
// trains from it. It depends on nothing but common/; the worker turns the sections into its
// own objects (Mlp, MakeOptimizer, collectives' GroupOptions and AlgorithmSelector).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/collectives_config.h"
#include "common/config.h"
#include "common/edge_config.h"
#include "common/model_config.h"

namespace cosched {

struct InferenceConfig {
  absl::Duration default_deadline = absl::Milliseconds(20);  // for requests that give none
  int64_t max_queue = 1024;
  // What admission budgets for a request's arrival to the start of its compute.
  absl::Duration preemption_bound = absl::Milliseconds(2);
  // Per step, how long a rank that yielded to inference may wait for it to finish and then
  // go on with the step's remaining micro-batches. Beyond it the rank gives up the rest of
  // the step, so its peers wait on it at most this long (plus one micro-batch).
  absl::Duration resume_within = absl::Milliseconds(1);
};

// What the job serves while it trains: versions of the model `model`, each one the weights of
// a committed step, taken every `publish_every_steps` steps and after every evaluation (with
// its test accuracy). Inference is routed for a model only to nodes whose version is within
// `max_staleness_steps` of the serving one. `promote` picks the serving version: "newest",
// or "better_accuracy" (a version is promoted only if its evaluated test accuracy beats the
// serving one's).
struct ServingConfig {
  std::string model;  // empty in the YAML: the job's name
  int64_t publish_every_steps = 50;
  int64_t max_staleness_steps = 0;  // 0 in the YAML: twice publish_every_steps
  std::string promote = "newest";
};

// How the scheduler places the job (ignored by standalone runs).
struct SchedulingConfig {
  int64_t priority = 0;      // higher first
  std::string kind = "any";  // any, datacenter or vehicle
  int64_t max_failures = 3;  // crashes tolerated; departures of vehicles never count
  int64_t cpus_per_worker = 1;
  uint64_t memory_per_worker = 0;
  double min_link_mbps = 0;
};

struct JobConfig {
  std::string name = "job";
  uint64_t seed = 1;
  MlpConfig model;
  OptimizerConfig optimizer;
  // Training: `steps` > 0 stops after that many steps, otherwise after `epochs` epochs.
  int64_t global_batch = 128;
  int64_t micro_batch = 16;  // samples between yield points
  int64_t epochs = 1;
  int64_t steps = 0;
  int64_t shard_size = 64;
  int64_t log_every_steps = 100;
  // false (the default): a rank that finished its part of a step takes over what its peers on
  // the same host have not started yet (work stealing), so a rank slowed by inference or by
  // the OS does not hold the others at the allreduce. true: every rank computes exactly its
  // own part unless its owner yielded to inference, so runs repeat bit for bit.
  bool deterministic = false;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";
  std::string checkpoint_dir;  // empty: no checkpoints
  int64_t checkpoint_interval_steps = 0;
  int64_t min_workers = 1;
  int64_t max_workers = 1;
  InferenceConfig inference;
  ServingConfig serving;
  CollectivesConfig collectives;
  SchedulingConfig scheduling;
  EdgeConfig edge;  // disabled unless the job has an `edge:` section
};

absl::StatusOr<JobConfig> LoadJobConfig(const std::string& path);
// The same, from an already loaded YAML document.
absl::StatusOr<JobConfig> ParseJobConfig(const ConfigNode& root);
// The same, from YAML text (a job submitted to the scheduler); `source` names it in errors.
absl::StatusOr<JobConfig> ParseJobConfigText(absl::string_view yaml, const std::string& source);

}  // namespace cosched
