#pragma once
// Plugins that llm-d's `dataLayer` and `requestHandler` sections refer to (llm-d-router
// apix/config/v1 DataLayerConfig, RequestHandlerConfig). The scheduler never calls them: the loader checks
// the sections' references against them and records what the data plane has to do in DataPlanePlan,
// which `llmd router` and `llmd epp` read at start-up.

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace llmd::sched {

// Endpoints from a YAML or JSON file (llm-d's file-discovery plugin).
struct DiscoveryFile {
  std::string path;
  bool watch = false;  // re-read the file when it changes
};

// What a metrics data source asks of the scraper.
struct MetricsScrape {
  std::string path = "/metrics";
  std::optional<Nanos> interval;  // none: the data plane's --refresh-metrics-interval
};

// dataLayer.discovery.endpoints (v1) or dataLayer.discovery.pluginRef (v1alpha1) names one of these.
class EndpointDiscovery {
 public:
  virtual ~EndpointDiscovery() = default;
  virtual DiscoveryFile discovery_file() const = 0;
};

// dataLayer.sources[].pluginRef names one of these.
class DataSource {
 public:
  virtual ~DataSource() = default;
  virtual MetricsScrape metrics_scrape() const = 0;
};

// dataLayer.sources[].extractors[].pluginRef names one of these.
class DataExtractor {
 public:
  virtual ~DataExtractor() = default;
  // The engine whose metric names apply to endpoints that do not say (no llm-d.ai/engine-type label).
  virtual std::string default_engine() const = 0;
};

// requestHandler.parsers[].pluginRef (or the deprecated top-level parser.pluginRef) names one of these.
class RequestParser {
 public:
  virtual ~RequestParser() = default;
};

// What the configuration asks of the data plane.
struct DataPlanePlan {
  // Endpoints from a file, used when no --endpoint or --discovery-file flag is given.
  std::optional<DiscoveryFile> discovery;
  // Whether endpoints' /metrics are scraped: llm-d injects its metrics source unless
  // dataLayer.injectDefaults is false, and then scrapes only through the sources listed.
  bool scrape_metrics = true;
  MetricsScrape scrape;
  std::string default_engine = "vllm";  // of endpoints without an engine-type label: vllm or sglang
  // Parser instance names in the configured order; empty: the data plane's built-in OpenAI parsing.
  std::vector<std::string> parsers;
};

}  // namespace llmd::sched
