// File: common/process_metrics.h
// The process_* families that Prometheus clients export for every process (the names and
// units of the Go and Python clients, which operators' dashboards and alerts expect), read
// from /proc/self at scrape time: CPU seconds, resident and virtual memory, open and maximum
// file descriptors, and the start time.
#pragma once

#include <vector>

#include "prometheus/metric_family.h"

namespace cosched {

// The families as they are now; a value that cannot be read is left out (with its family).
std::vector<prometheus::MetricFamily> CollectProcessMetrics();

}  // namespace cosched
