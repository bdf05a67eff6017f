#include "common/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/support/http_get.h"

namespace cosched {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, SameNameAndLabelsIsTheSameSeries) {
  MetricsRegistry registry;
  registry.Counter("cosched_things_total", "Things.", {{"kind", "a"}}).Increment();
  registry.Counter("cosched_things_total", "Things.", {{"kind", "a"}}).Increment(2);
  registry.Counter("cosched_things_total", "Things.", {{"kind", "b"}}).Increment();
  const std::string text = registry.TextExposition();
  EXPECT_THAT(text, HasSubstr("cosched_things_total{kind=\"a\"} 3"));
  EXPECT_THAT(text, HasSubstr("cosched_things_total{kind=\"b\"} 1"));
}

TEST(MetricsTest, ServerServesMetricsOverHttp) {
  MetricsRegistry registry;
  auto server = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(server.ok()) << server.status();
  registry.Gauge("cosched_answer", "The answer.").Set(42);
  registry.Histogram("cosched_op_seconds", "Op time.", MetricsRegistry::LatencyBuckets())
      .Observe(0.001);
  auto body = testing::HttpGet((*server)->port(), "/metrics");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_THAT(*body, HasSubstr("cosched_answer 42"));
  EXPECT_THAT(*body, HasSubstr("cosched_op_seconds_count 1"));
  // Only our families and the standard process ones: no exposer_* of prometheus-cpp's.
  EXPECT_THAT(*body, Not(HasSubstr("exposer_")));
}

// The value of the unlabelled series `name` in an exposition; nullopt when absent.
std::optional<double> SeriesValue(const std::string& text, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, name + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line, &value)) return value;
  }
  return std::nullopt;
}

TEST(MetricsTest, TheStandardProcessFamiliesDescribeThisProcess) {
  MetricsRegistry registry;
  const std::string text = registry.TextExposition();
  const double now = absl::ToUnixSeconds(absl::Now());
  const auto start = SeriesValue(text, "process_start_time_seconds");
  ASSERT_TRUE(start.has_value()) << text;
  EXPECT_GT(*start, now - 3600);  // a test binary started within the hour
  EXPECT_LE(*start, now + 1);
  const auto cpu = SeriesValue(text, "process_cpu_seconds_total");
  ASSERT_TRUE(cpu.has_value()) << text;
  EXPECT_GE(*cpu, 0);
  const auto resident = SeriesValue(text, "process_resident_memory_bytes");
  ASSERT_TRUE(resident.has_value()) << text;
  EXPECT_GT(*resident, 1 << 20);  // a process with gtest and absl loaded holds over 1 MiB
  const auto open = SeriesValue(text, "process_open_fds");
  const auto max = SeriesValue(text, "process_max_fds");
  ASSERT_TRUE(open.has_value() && max.has_value()) << text;
  EXPECT_GE(*open, 3);  // stdin, stdout, stderr
  EXPECT_GE(*max, *open);
  EXPECT_TRUE(SeriesValue(text, "process_virtual_memory_bytes").has_value()) << text;
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter"));
}

TEST(MetricsTest, BadAddressIsAClearError) {
  MetricsRegistry registry;
  EXPECT_THAT(MetricsServer::Start("no-port", registry).status().message(),
              HasSubstr("must be HOST:PORT"));
  auto first = MetricsServer::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(first.ok());
  const std::string taken = "127.0.0.1:" + std::to_string((*first)->port());
  const auto second = MetricsServer::Start(taken, registry);
  EXPECT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr(taken));
}

}  // namespace
}  // namespace cosched
