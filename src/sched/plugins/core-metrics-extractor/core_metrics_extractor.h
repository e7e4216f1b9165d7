#pragma once
// core-metrics-extractor: maps engine metrics (vllm:*, sglang:*) to the standard endpoint attributes
// (queue, running requests, KV-cache use, LoRA, cache config) by the endpoint's engine type (llm-d-router
// pkg/epp/framework/plugins/datalayer/extractor/metrics). In llmd that mapping is the data layer's
// (datalayer/engine_metrics.h); this plugin, named in dataLayer.sources[].extractors, sets the default
// engine.

#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "sched/data_plane.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kCoreMetricsExtractorType = "core-metrics-extractor";

struct CoreMetricsExtractorParams {
  // Engine of endpoints without an llm-d.ai/engine-type label: vllm or sglang (llm-d also knows
  // trtllm-serve and triton-tensorrt-llm, whose metric names llmd does not read).
  std::string default_engine = "vllm";
};
void decode(config::MapReader& m, CoreMetricsExtractorParams& p);

class CoreMetricsExtractor final : public Plugin, public DataExtractor {
 public:
  CoreMetricsExtractor(TypedName tn, CoreMetricsExtractorParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(std::move(params)) {}
  std::string default_engine() const override { return params_.default_engine; }

 private:
  CoreMetricsExtractorParams params_;
};

Result<std::shared_ptr<Plugin>> create_core_metrics_extractor(const PluginArgs& args);

}  // namespace llmd::sched::plugins
