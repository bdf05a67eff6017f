// File: scheduler/service/scheduler_metrics.h
// SchedulerMetrics: the scheduler's /metrics. The core keeps plain counters and state; this
// exporter reads them on the core's loop thread (Update, posted once a second) and mirrors
// them into Prometheus series. Handler durations (how long each decision took) are observed
// as they happen by the CoreRunner; heartbeat messages are counted by the WorkerSession
// service, which coalesces them before the core sees them (the core counts its calls).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/metrics.h"
#include "scheduler/core/scheduler_core.h"
#include "scheduler/service/job_journal.h"

namespace cosched::scheduler {

class SchedulerMetrics {
 public:
  explicit SchedulerMetrics(MetricsRegistry* registry);

  // Runs on the core's loop thread.
  void Update(const SchedulerCore& core);
  // The journal whose writes Update exports (it writes on the loop thread too); optional.
  void set_journal(const StoreJobJournal* journal) { journal_ = journal; }
  // Worker sessions (any thread): one registered and is open; an open one ended, because the
  // worker went away or because the node connected again (`replaced`); a registration was
  // refused.
  void SessionOpened();
  void SessionClosed(bool replaced);
  void SessionRefused();
  // A call refused for who made it or how often (any thread): `service` is client, session or
  // rendezvous; the label `code` is the status code's name in lower case.
  void CallRefused(absl::string_view service, absl::StatusCode code);
  // How long one core handler ran (registration, heartbeat, submission, routing, tick).
  void ObserveDecision(absl::string_view handler, absl::Duration took);
  // Heartbeat messages received from workers and handed to the core, coalesced or not.
  void CountHeartbeats(int64_t messages);
  // An answer to a routed request for `model`, from a version taken `age` before it (any
  // thread).
  void ObserveAnswer(const std::string& model, absl::Duration age);

 private:
  // Counters only grow: add what the core counted since the last update.
  void Advance(absl::string_view name, absl::string_view help, const MetricLabels& labels,
               int64_t total);

  MetricsRegistry* const registry_;
  prometheus::Counter& heartbeats_;  // created up front, so /metrics shows it before any beat
  prometheus::Gauge& sessions_open_;
  const StoreJobJournal* journal_ = nullptr;
  std::map<std::string, int64_t> exported_;  // counter series -> value already exported
};

}  // namespace cosched::scheduler
