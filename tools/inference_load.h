// File: tools/inference_load.h
// InferenceLoad: an open-loop client that sends inference requests with deadlines to one or
// more workers over gRPC, at Poisson arrival times or at times replayed from a trace, and
// reports what happened (deadline attainment, refusals, latency and preemption latency).
// Used by `make run` (the standalone demo) and `cosched-bench inference`.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/tls/credentials.h"
#include "worker/data/idx_reader.h"

namespace cosched::tools {

struct LoadOptions {
  std::vector<std::string> targets;  // HOST:PORT of workers; requests go round-robin
  // Targets are cosched-schedulers (their Scheduler.Infer routes each request to a worker)
  // rather than workers' own Inference services.
  bool via_scheduler = false;
  // With via_scheduler: how to reach the schedulers (the CA, and a client certificate with
  // the submit role or more, or a token), filled by the caller. Workers' own Inference
  // services speak plaintext, so without via_scheduler this is not used.
  tls::TlsFlags tls;
  double rate_per_second = 100;          // Poisson rate (ignored when `arrivals` is set)
  std::vector<absl::Duration> arrivals;  // offsets from the start, replayed in order
  absl::Duration duration = absl::Seconds(10);
  absl::Duration deadline = absl::Milliseconds(20);
  const worker::LabeledImages* images = nullptr;  // requests carry images from here
  uint64_t seed = 1;
  // When set, sending stops as soon as it reads true (requests in flight still finish).
  const std::atomic<bool>* stop = nullptr;
};

struct LoadReport {
  int64_t sent = 0;
  int64_t admitted = 0;
  int64_t refused = 0;      // RESOURCE_EXHAUSTED: the worker said the deadline cannot be met
  int64_t unavailable = 0;  // no worker serving: it shut down or is gone (UNAVAILABLE,
                            // or CANCELLED by a server shutting down)
  int64_t errors = 0;       // any other failure
  int64_t met = 0;          // admitted and answered before the deadline
  int64_t correct = 0;      // predicted class equals the label
  // Answers by the model version that gave them ("model@step").
  std::map<std::string, int64_t> answers_by_version;
  std::vector<double> latency_ms;     // client-side, admitted requests
  std::vector<double> preemption_ms;  // worker-side arrival to compute start
  std::vector<double> compute_ms;
  std::string first_error;
  // The fraction of answers that were correct (scored against the test labels); -1: none.
  double accuracy() const {
    return admitted > 0 ? static_cast<double>(correct) / static_cast<double>(admitted) : -1;
  }
  double deadline_attainment() const {
    return admitted > 0 ? static_cast<double>(met) / static_cast<double>(admitted) : 1.0;
  }
};

// Runs until `options.duration` has passed (or the arrivals are exhausted) and every
// request in flight has an answer.
absl::StatusOr<LoadReport> RunInferenceLoad(const LoadOptions& options);

// Arrival offsets from an inference trace CSV of ../shared/data/traces/inference (the first
// column holding a timestamp), shifted to start at 0 and scaled by `speedup`.
absl::StatusOr<std::vector<absl::Duration>> LoadTraceArrivals(const std::string& csv_path,
                                                              double speedup, size_t limit);

// The p-th percentile (0..100) of `values` (nearest rank); 0 when empty.
double Percentile(std::vector<double> values, double p);

}  // namespace cosched::tools
