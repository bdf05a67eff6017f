// File: worker/worker_metrics.h
// The worker's Prometheus metrics, created once and passed to the trainer and inference.
#pragma once

#include "common/metrics.h"
#include "common/mutex.h"

namespace cosched::worker {

class WorkerMetrics {
 public:
  explicit WorkerMetrics(MetricsRegistry& registry);

  prometheus::Counter& steps;
  prometheus::Counter& samples;
  prometheus::Histogram& step_seconds;
  prometheus::Histogram& allreduce_seconds;
  prometheus::Counter& allreduce_bytes;
  prometheus::Counter& inference_met;
  prometheus::Counter& inference_missed;
  prometheus::Counter& inference_refused;
  prometheus::Histogram& inference_latency_seconds;
  prometheus::Histogram& preemption_latency_seconds;
  prometheus::Counter& preemptions;
  // Under the scheduler: preemption notices (the node taken for inference), by whether
  // training stopped within the notice's budget.
  prometheus::Counter& notices_in_time;
  prometheus::Counter& notices_late;
  prometheus::Gauge& generation;
  prometheus::Gauge& test_accuracy;
  // The edge tier (this node speaks for its replica): payload bytes to and from the
  // aggregator, and outer rounds taken part in.
  prometheus::Counter& edge_bytes_sent;
  prometheus::Counter& edge_bytes_received;
  prometheus::Counter& outer_rounds;

  // cosched_worker_state{state=...} is 1 for one of serving (inference computing), training
  // (a job is running) or idle. The trainer and the inference thread each report their part.
  void SetTraining(bool active) ABSL_LOCKS_EXCLUDED(mu_);
  void SetServing(bool active) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Mutex mu_;
  bool training_active_ ABSL_GUARDED_BY(mu_) = false;
  bool serving_active_ ABSL_GUARDED_BY(mu_) = false;
  prometheus::Gauge& idle_;
  prometheus::Gauge& training_;
  prometheus::Gauge& serving_;
};

}  // namespace cosched::worker
