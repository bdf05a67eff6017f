// File: common/metrics.cc
// The one adapter between cosched and prometheus-cpp/civetweb: exceptions stop here.
#include "common/metrics.h"

#include <exception>
#include <utility>

#include "CivetServer.h"
#include "absl/strings/str_cat.h"
#include "common/process_metrics.h"
#include "prometheus/text_serializer.h"

namespace cosched {

MetricsRegistry::MetricsRegistry() : registry_(std::make_shared<prometheus::Registry>()) {}

// prometheus-cpp's Registry returns the existing family when name, help and labels match
// (InsertBehavior::Merge), so "create on first use" is just Register.
prometheus::Counter& MetricsRegistry::Counter(absl::string_view name, absl::string_view help,
                                              const MetricLabels& labels) {
  return prometheus::BuildCounter()
      .Name(std::string(name))
      .Help(std::string(help))
      .Register(*registry_)
      .Add(labels);
}

prometheus::Gauge& MetricsRegistry::Gauge(absl::string_view name, absl::string_view help,
                                          const MetricLabels& labels) {
  return prometheus::BuildGauge()
      .Name(std::string(name))
      .Help(std::string(help))
      .Register(*registry_)
      .Add(labels);
}

prometheus::Histogram& MetricsRegistry::Histogram(absl::string_view name, absl::string_view help,
                                                  const std::vector<double>& buckets,
                                                  const MetricLabels& labels) {
  return prometheus::BuildHistogram()
      .Name(std::string(name))
      .Help(std::string(help))
      .Register(*registry_)
      .Add(labels, buckets);
}

std::string MetricsRegistry::TextExposition() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& family : CollectProcessMetrics()) {
    families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

std::vector<double> MetricsRegistry::LatencyBuckets() {
  std::vector<double> buckets;
  for (double b = 50e-6; b < 30.0; b *= 2) buckets.push_back(b);
  return buckets;
}

// Answers GET /metrics with the registry's exposition (civetweb runs it on its threads;
// the registry is thread-safe).
class MetricsServer::Handler : public CivetHandler {
 public:
  explicit Handler(const MetricsRegistry& registry) : registry_(registry) {}

  bool handleGet(CivetServer* /*server*/, mg_connection* connection) override {
    const std::string body = registry_.TextExposition();
    mg_printf(connection,
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Content-Length: %zu\r\n"
              "Connection: close\r\n\r\n",
              body.size());
    mg_write(connection, body.data(), body.size());
    return true;
  }

 private:
  const MetricsRegistry& registry_;
};

MetricsServer::MetricsServer(std::unique_ptr<CivetServer> server, std::unique_ptr<Handler> handler,
                             int port)
    : handler_(std::move(handler)), server_(std::move(server)), port_(port) {}

MetricsServer::~MetricsServer() {
  if (server_ != nullptr) server_->close();  // stops the threads before the handler goes
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    absl::string_view address, const MetricsRegistry& registry) {
  if (address.find(':') == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", address, "' must be HOST:PORT"));
  }
  auto handler = std::make_unique<Handler>(registry);
  try {
    // Two threads: scrapes are rare and short.
    auto server = std::make_unique<CivetServer>(
        std::vector<std::string>{"listening_ports", std::string(address), "num_threads", "2"});
    const std::vector<int> ports = server->getListeningPorts();
    if (ports.empty()) {
      return absl::UnavailableError(absl::StrCat("metrics server on ", address, " has no port"));
    }
    server->addHandler("/metrics", handler.get());
    return std::unique_ptr<MetricsServer>(
        new MetricsServer(std::move(server), std::move(handler), ports[0]));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on '", address, "': ", e.what()));
  }
}

}  // namespace cosched
