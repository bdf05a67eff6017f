// File: common/job_config.cc
#include "common/job_config.h"

#include <limits>

#include "common/status_macros.h"

namespace cosched {

namespace {
constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
}  // namespace

absl::StatusOr<JobConfig> ParseJobConfig(const ConfigNode& root) {
  RETURN_IF_ERROR(root.RejectUnknownKeys({"job"}));
  ASSIGN_OR_RETURN(const ConfigNode job, root.Map("job"));
  // Every field has a default, so without this an empty file would be a job of defaults.
  if (job.Empty()) {
    return root.Error("job", root.Empty() ? "the job file is empty: it needs a job: section "
                                            "with at least the job's name (configs/jobs/"
                                            "fashion-mlp.yaml is an example)"
                                          : "is empty: give at least the job's name");
  }
  RETURN_IF_ERROR(job.RejectUnknownKeys({"name", "seed", "model", "optimizer", "training", "data",
                                         "checkpoint", "workers", "inference", "serving",
                                         "collectives", "scheduling", "edge"}));
  JobConfig config;
  ASSIGN_OR_RETURN(config.name, job.String("name", config.name));
  if (config.name.empty() || config.name.find('/') != std::string::npos) {
    return job.Error("name", "must be non-empty and contain no '/'");
  }
  ASSIGN_OR_RETURN(const int64_t seed, job.Int("seed", 1, 0, kMaxInt));
  config.seed = static_cast<uint64_t>(seed);
  ASSIGN_OR_RETURN(const ConfigNode model, job.Map("model"));
  ASSIGN_OR_RETURN(config.model, ParseMlpConfig(model));
  ASSIGN_OR_RETURN(const ConfigNode optimizer, job.Map("optimizer"));
  ASSIGN_OR_RETURN(config.optimizer, ParseOptimizerConfig(optimizer));

  ASSIGN_OR_RETURN(const ConfigNode training, job.Map("training"));
  RETURN_IF_ERROR(training.RejectUnknownKeys({"global_batch", "micro_batch", "epochs", "steps",
                                              "shard_size", "log_every_steps", "deterministic"}));
  ASSIGN_OR_RETURN(config.global_batch, training.Int("global_batch", 128, 1, 1 << 20));
  ASSIGN_OR_RETURN(config.micro_batch, training.Int("micro_batch", 16, 1, 1 << 16));
  ASSIGN_OR_RETURN(config.epochs, training.Int("epochs", 1, 0, 100000));
  ASSIGN_OR_RETURN(config.steps, training.Int("steps", 0, 0, kMaxInt));
  ASSIGN_OR_RETURN(config.shard_size, training.Int("shard_size", 64, 1, 1 << 20));
  ASSIGN_OR_RETURN(config.log_every_steps, training.Int("log_every_steps", 100, 1, kMaxInt));
  ASSIGN_OR_RETURN(config.deterministic, training.Bool("deterministic", false));
  if (config.epochs == 0 && config.steps == 0) {
    return training.Error("epochs", "give epochs or steps (both are 0)");
  }

  ASSIGN_OR_RETURN(const ConfigNode data, job.Map("data"));
  RETURN_IF_ERROR(data.RejectUnknownKeys({"dir"}));
  ASSIGN_OR_RETURN(config.data_dir, data.String("dir", config.data_dir));

  ASSIGN_OR_RETURN(const ConfigNode checkpoint, job.Map("checkpoint"));
  RETURN_IF_ERROR(checkpoint.RejectUnknownKeys({"dir", "interval_steps"}));
  ASSIGN_OR_RETURN(config.checkpoint_dir, checkpoint.String("dir", ""));
  ASSIGN_OR_RETURN(config.checkpoint_interval_steps,
                   checkpoint.Int("interval_steps", 0, 0, kMaxInt));
  if (config.checkpoint_interval_steps > 0 && config.checkpoint_dir.empty()) {
    return checkpoint.Error("dir", "checkpoint.interval_steps is set but dir is empty");
  }

  ASSIGN_OR_RETURN(const ConfigNode workers, job.Map("workers"));
  RETURN_IF_ERROR(workers.RejectUnknownKeys({"min", "max"}));
  ASSIGN_OR_RETURN(config.min_workers, workers.Int("min", 1, 1, 100000));
  ASSIGN_OR_RETURN(config.max_workers, workers.Int("max", config.min_workers, 1, 100000));
  if (config.max_workers < config.min_workers) {
    return workers.Error("max", "must be at least workers.min");
  }

  ASSIGN_OR_RETURN(const ConfigNode inference, job.Map("inference"));
  RETURN_IF_ERROR(
      inference.RejectUnknownKeys({"deadline", "max_queue", "preemption_bound", "resume_within"}));
  ASSIGN_OR_RETURN(config.inference.default_deadline,
                   inference.Duration("deadline", config.inference.default_deadline));
  ASSIGN_OR_RETURN(config.inference.max_queue, inference.Int("max_queue", 1024, 1, 1 << 20));
  ASSIGN_OR_RETURN(config.inference.preemption_bound,
                   inference.Duration("preemption_bound", config.inference.preemption_bound));
  ASSIGN_OR_RETURN(config.inference.resume_within,
                   inference.Duration("resume_within", config.inference.resume_within));

  ASSIGN_OR_RETURN(const ConfigNode serving, job.Map("serving"));
  RETURN_IF_ERROR(serving.RejectUnknownKeys(
      {"model", "publish_every_steps", "max_staleness_steps", "promote"}));
  ASSIGN_OR_RETURN(config.serving.model, serving.String("model", config.name));
  if (config.serving.model.empty() || config.serving.model.find('/') != std::string::npos) {
    return serving.Error("model", "must be non-empty and contain no '/'");
  }
  ASSIGN_OR_RETURN(config.serving.publish_every_steps,
                   serving.Int("publish_every_steps", 50, 1, kMaxInt));
  ASSIGN_OR_RETURN(config.serving.max_staleness_steps,
                   serving.Int("max_staleness_steps", 0, 0, kMaxInt));
  if (config.serving.max_staleness_steps == 0) {
    config.serving.max_staleness_steps = 2 * config.serving.publish_every_steps;
  }
  ASSIGN_OR_RETURN(config.serving.promote,
                   serving.Enum("promote", "newest", {"newest", "better_accuracy"}));

  ASSIGN_OR_RETURN(const ConfigNode collectives, job.Map("collectives"));
  ASSIGN_OR_RETURN(config.collectives, ParseCollectivesConfig(collectives));
  ASSIGN_OR_RETURN(config.edge, ParseEdgeConfig(job));

  ASSIGN_OR_RETURN(const ConfigNode scheduling, job.Map("scheduling"));
  RETURN_IF_ERROR(
      scheduling.RejectUnknownKeys({"priority", "kind", "max_failures", "cpus_per_worker",
                                    "memory_per_worker", "min_link_mbps"}));
  SchedulingConfig& sched = config.scheduling;
  ASSIGN_OR_RETURN(sched.priority, scheduling.Int("priority", 0, -1000, 1000));
  ASSIGN_OR_RETURN(sched.kind, scheduling.Enum("kind", "any", {"any", "datacenter", "vehicle"}));
  ASSIGN_OR_RETURN(sched.max_failures, scheduling.Int("max_failures", 3, 0, 1000000));
  ASSIGN_OR_RETURN(sched.cpus_per_worker, scheduling.Int("cpus_per_worker", 1, 0, 4096));
  ASSIGN_OR_RETURN(sched.memory_per_worker, scheduling.ByteSize("memory_per_worker", 0));
  ASSIGN_OR_RETURN(sched.min_link_mbps, scheduling.Double("min_link_mbps", 0));
  if (sched.min_link_mbps < 0) return scheduling.Error("min_link_mbps", "must be >= 0");
  return config;
}

absl::StatusOr<JobConfig> ParseJobConfigText(absl::string_view yaml, const std::string& source) {
  ASSIGN_OR_RETURN(const ConfigNode root, ConfigNode::LoadString(yaml, source));
  return ParseJobConfig(root);
}

absl::StatusOr<JobConfig> LoadJobConfig(const std::string& path) {
  ASSIGN_OR_RETURN(const ConfigNode root, ConfigNode::LoadFile(path));
  return ParseJobConfig(root);
}

}  // namespace cosched
