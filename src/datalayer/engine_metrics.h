#pragma once
// Maps a model server's /metrics page to the scheduler's engine-neutral EndpointMetrics, by engine
// type (vLLM or SGLang names, as llm-d's datalayer reads them: vllm:num_requests_waiting,
// sglang:num_queue_reqs, ...). The scrape filter makes the parser decode only these
// series and skip every other line after reading its name.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "datalayer/discovery.h"
#include "metrics/parser.h"
#include "sched/endpoint.h"

namespace llmd::datalayer {

// Which of the core attributes a page carried (for /debug/endpoints and "missing metric" warnings).
struct ExtractReport {
  bool has_waiting = false;
  bool has_running = false;
  bool has_kv_usage = false;
  bool has_cache_config = false;
  bool has_lora = false;
  bool complete() const { return has_waiting && has_running && has_kv_usage; }
  // Comma-separated names of the missing core attributes; empty when complete.
  std::string missing() const;
};

// The filter selecting the series `engine` needs. Built once per engine; immutable, shareable.
const metrics::ScrapeFilter& scrape_filter(EngineType engine);

// The query that asks a Prometheus client library (vLLM's and SGLang's /metrics) for these series
// alone: `name%5B%5D=<name>&...` (`name[]`, URL-encoded). A server that ignores it sends the whole
// page, which the filter then reduces.
const std::string& scrape_query(EngineType engine);

// Extracts attributes from a parsed page. Data-parallel servers expose one series per engine rank:
// queue and running counts are summed, KV-cache usage is the maximum. Missing series leave the value
// at zero (the report says which). `now` becomes update_time.
sched::EndpointMetrics extract_metrics(EngineType engine, const metrics::Page& page, Nanos now,
                                       ExtractReport* report = nullptr);

// True when the scheduling-relevant values differ (update_time ignored).
bool same_values(const sched::EndpointMetrics& a, const sched::EndpointMetrics& b);

}  // namespace llmd::datalayer
