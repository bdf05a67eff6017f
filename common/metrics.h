// File: common/metrics.h
// Metrics facade on prometheus-cpp. A MetricsRegistry holds a process's metric families;
// a MetricsServer serves them as /metrics on a configurable address, with the standard
// process_* families (process_metrics.h). Names follow DESIGN.md: prefix cosched_, base
// units, counters end in _total, low-cardinality labels. The server is our own civetweb
// handler rather than prometheus-cpp's Exposer, which adds exposer_* families of its own (one
// without a unit) that `promtool check metrics` reports.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

class CivetServer;

namespace cosched {

using MetricLabels = std::map<std::string, std::string>;

class MetricsRegistry {
 public:
  MetricsRegistry();

  // Each returns the series for (name, labels), creating its family on first use. Calls
  // with the same name must agree on the kind and help text.
  prometheus::Counter& Counter(absl::string_view name, absl::string_view help,
                               const MetricLabels& labels = {});
  prometheus::Gauge& Gauge(absl::string_view name, absl::string_view help,
                           const MetricLabels& labels = {});
  prometheus::Histogram& Histogram(absl::string_view name, absl::string_view help,
                                   const std::vector<double>& buckets,
                                   const MetricLabels& labels = {});

  // The Prometheus text exposition of every series and the process_* families (what
  // /metrics serves).
  std::string TextExposition() const;
  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // Bucket bounds for latencies from 50 us to ~26 s (factor 2).
  static std::vector<double> LatencyBuckets();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
};

class MetricsServer {
 public:
  // Serves `registry` at http://<address>/metrics. `address` is HOST:PORT; port 0 picks a
  // free port (see port()).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(absl::string_view address,
                                                              const MetricsRegistry& registry);
  ~MetricsServer();
  int port() const { return port_; }

 private:
  class Handler;
  MetricsServer(std::unique_ptr<CivetServer> server, std::unique_ptr<Handler> handler, int port);
  // Declared first so that it outlives the server, which calls it until stopped.
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<CivetServer> server_;
  int port_;
};

}  // namespace cosched
