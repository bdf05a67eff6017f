#include "common/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/http_get.h"

namespace cosched {
namespace {

using ::testing::HasSubstr;

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
