#include "sched/plugins/metrics-data-source/metrics_data_source.h"

namespace llmd::sched::plugins {

namespace {
constexpr std::string_view kHttpsNotBuilt =
    "not supported by this build (llmd scrapes /metrics over plain http)";
}  // namespace

void decode(config::MapReader& m, MetricsDataSourceParams& p) {
  if (m.read("scheme", p.scheme) && p.scheme != "http") {
    m.error("scheme", p.scheme == "https" ? kHttpsNotBuilt : std::string_view("expected http or https"));
  }
  if (m.read("path", p.path) && !p.path.starts_with('/')) m.error("path", "must start with /");
  m.read("insecureSkipVerify", p.insecure_skip_verify);
  if (m.read("interval", p.interval) && p.interval && p.interval->count() == 0) {
    m.error("interval", "must be > 0");
  }
  for (std::string_view key : {"caCertPath", "clientCertPath", "clientKeyPath"}) {
    if (m.has(key)) {
      m.raw(key);
      m.error(key, kHttpsNotBuilt);
    }
  }
}

MetricsScrape MetricsDataSource::metrics_scrape() const {
  MetricsScrape s;
  s.path = params_.path;
  if (params_.interval) s.interval = Nanos(*params_.interval);
  return s;
}

Result<std::shared_ptr<Plugin>> create_metrics_data_source(const PluginArgs& args) {
  return make_plugin<MetricsDataSource, MetricsDataSourceParams>(args);
}

}  // namespace llmd::sched::plugins
