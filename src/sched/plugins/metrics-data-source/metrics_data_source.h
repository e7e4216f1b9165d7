#pragma once
// metrics-data-source: polls each endpoint's Prometheus /metrics (llm-d-router
// pkg/epp/framework/plugins/datalayer/source/metrics). In llmd the data layer's scraper is built in; this
// plugin, named by dataLayer.sources[].pluginRef, sets its path and period.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "config/config.h"
#include "sched/data_plane.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kMetricsDataSourceType = "metrics-data-source";

struct MetricsDataSourceParams {
  std::string scheme = "http";
  std::string path = "/metrics";
  bool insecure_skip_verify = true;  // llm-d's default; only meaningful for https
  std::optional<std::chrono::nanoseconds> interval;
};
void decode(config::MapReader& m, MetricsDataSourceParams& p);

class MetricsDataSource final : public Plugin, public DataSource {
 public:
  MetricsDataSource(TypedName tn, MetricsDataSourceParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(std::move(params)) {}
  MetricsScrape metrics_scrape() const override;

 private:
  MetricsDataSourceParams params_;
};

Result<std::shared_ptr<Plugin>> create_metrics_data_source(const PluginArgs& args);

}  // namespace llmd::sched::plugins
