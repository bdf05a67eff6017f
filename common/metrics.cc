// File: common/metrics.cc
// The one adapter between cosched and prometheus-cpp/civetweb: exceptions stop here.
#include "common/metrics.h"

#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "prometheus/exposer.h"
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

void MetricsRegistry::RemoveGauge(absl::string_view name, absl::string_view help,
                                  const MetricLabels& labels) {
  auto& family =
      prometheus::BuildGauge().Name(std::string(name)).Help(std::string(help)).Register(*registry_);
  if (family.Has(labels)) family.Remove(&family.Add(labels));
}

std::string MetricsRegistry::TextExposition() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::vector<double> MetricsRegistry::LatencyBuckets() {
  std::vector<double> buckets;
  for (double b = 50e-6; b < 30.0; b *= 2) buckets.push_back(b);
  return buckets;
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port)
    : exposer_(std::move(exposer)), port_(port) {}

MetricsServer::~MetricsServer() = default;

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    absl::string_view address, const MetricsRegistry& registry) {
  if (address.find(':') == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", address, "' must be HOST:PORT"));
  }
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(std::string(address));
    exposer->RegisterCollectable(registry.registry());
    const std::vector<int> ports = exposer->GetListeningPorts();
    if (ports.empty()) {
      return absl::UnavailableError(absl::StrCat("metrics server on ", address, " has no port"));
    }
    return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer), ports[0]));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on '", address, "': ", e.what()));
  }
}

}  // namespace cosched
