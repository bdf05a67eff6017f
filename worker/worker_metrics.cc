// File: worker/worker_metrics.cc
#include "worker/worker_metrics.h"

namespace cosched::worker {

WorkerMetrics::WorkerMetrics(MetricsRegistry& r)
    : steps(r.Counter("cosched_worker_steps_total", "Training steps completed.")),
      samples(r.Counter("cosched_worker_samples_total", "Training samples this rank processed.")),
      step_seconds(r.Histogram("cosched_worker_step_seconds", "Wall time of a training step.",
                               MetricsRegistry::LatencyBuckets())),
      allreduce_seconds(r.Histogram("cosched_worker_allreduce_seconds",
                                    "Wall time of the gradient allreduce of a step.",
                                    MetricsRegistry::LatencyBuckets())),
      allreduce_bytes(
          r.Counter("cosched_worker_allreduce_bytes_total", "Bytes this rank allreduced.")),
      inference_met(r.Counter("cosched_inference_requests_total", "Inference requests by outcome.",
                              {{"outcome", "met"}})),
      inference_missed(r.Counter("cosched_inference_requests_total",
                                 "Inference requests by outcome.", {{"outcome", "missed"}})),
      inference_refused(r.Counter("cosched_inference_requests_total",
                                  "Inference requests by outcome.", {{"outcome", "refused"}})),
      inference_latency_seconds(r.Histogram("cosched_inference_latency_seconds",
                                            "Arrival to reply of admitted inference requests.",
                                            MetricsRegistry::LatencyBuckets())),
      preemption_latency_seconds(
          r.Histogram("cosched_preemption_latency_seconds",
                      "Arrival of an inference request to the start of its compute.",
                      MetricsRegistry::LatencyBuckets())),
      preemptions(r.Counter("cosched_preemptions_total",
                            "Times training yielded the compute to inference.",
                            {{"reason", "inference"}})),
      notices_in_time(r.Counter("cosched_worker_preemption_notices_total",
                                "Preemption notices from the scheduler, by whether training "
                                "stopped within the budget.",
                                {{"outcome", "in_time"}})),
      notices_late(r.Counter("cosched_worker_preemption_notices_total",
                             "Preemption notices from the scheduler, by whether training "
                             "stopped within the budget.",
                             {{"outcome", "late"}})),
      generation(r.Gauge("cosched_worker_generation", "Current membership generation.")),
      test_accuracy(r.Gauge("cosched_worker_test_accuracy", "Last measured test accuracy.")),
      edge_bytes_sent(r.Counter("cosched_worker_edge_bytes_total",
                                "Edge tier: payload bytes between this node and the aggregator.",
                                {{"direction", "sent"}})),
      edge_bytes_received(
          r.Counter("cosched_worker_edge_bytes_total",
                    "Edge tier: payload bytes between this node and the aggregator.",
                    {{"direction", "received"}})),
      outer_rounds(r.Counter("cosched_worker_outer_rounds_total",
                             "Edge tier: outer rounds this node contributed to.")),
      idle_(r.Gauge("cosched_worker_state", "1 for the worker's current state.",
                    {{"state", "idle"}})),
      training_(r.Gauge("cosched_worker_state", "1 for the worker's current state.",
                        {{"state", "training"}})),
      serving_(r.Gauge("cosched_worker_state", "1 for the worker's current state.",
                       {{"state", "serving"}})) {
  MutexLock lock(&mu_);
  Publish();
}

void WorkerMetrics::SetTraining(bool active) {
  MutexLock lock(&mu_);
  training_active_ = active;
  Publish();
}

void WorkerMetrics::SetServing(bool active) {
  MutexLock lock(&mu_);
  serving_active_ = active;
  Publish();
}

void WorkerMetrics::Publish() {
  serving_.Set(serving_active_ ? 1 : 0);
  training_.Set(!serving_active_ && training_active_ ? 1 : 0);
  idle_.Set(!serving_active_ && !training_active_ ? 1 : 0);
}

}  // namespace cosched::worker
