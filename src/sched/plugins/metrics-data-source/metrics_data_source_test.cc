#include "sched/plugins/metrics-data-source/metrics_data_source.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

Result<std::shared_ptr<Plugin>> make(std::string_view yaml) {
  auto node = config::parse(yaml, "t.yaml");
  EXPECT_TRUE(node);
  return create_metrics_data_source(PluginArgs{{"metrics-data-source", "src"}, *node});
}

MetricsScrape scrape(const Result<std::shared_ptr<Plugin>>& p) {
  return dynamic_cast<const DataSource*>(p->get())->metrics_scrape();
}

TEST(MetricsDataSourceTest, DefaultsAndTheChartsParameters) {
  auto d = make("");
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(scrape(d).path, "/metrics");
  EXPECT_FALSE(scrape(d).interval.has_value());

  // llm-d's chart default (llm-d-router config/charts/routerlib/templates/_config.yaml).
  auto chart = make("{scheme: \"http\", path: \"/metrics\", insecureSkipVerify: true}");
  ASSERT_TRUE(chart) << chart.error().message;
  EXPECT_EQ(scrape(chart).path, "/metrics");

  auto custom = make("{path: /stats, interval: 250ms}");
  ASSERT_TRUE(custom) << custom.error().message;
  EXPECT_EQ(scrape(custom).path, "/stats");
  EXPECT_EQ(scrape(custom).interval, std::chrono::milliseconds(250));
}

TEST(MetricsDataSourceTest, Validation) {
  const std::pair<const char*, const char*> cases[] = {
      {"{scheme: https}", "scheme: not supported by this build (llmd scrapes /metrics over plain http)"},
      {"{scheme: ftp}", "scheme: expected http or https"},
      {"{caCertPath: /ca.pem}", "caCertPath: not supported by this build"},
      {"{clientKeyPath: /k.pem}", "clientKeyPath: not supported by this build"},
      {"{path: metrics}", "path: must start with /"},
      {"{interval: 0s}", "interval: must be > 0"},
      {"{interval: 5}", "interval"},
      {"{port: 9000}", "port: unknown field"},
  };
  testing::expect_parameter_errors(make, cases);
}

}  // namespace
}  // namespace llmd::sched::plugins
