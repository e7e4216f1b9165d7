#include "sched/plugins/core-metrics-extractor/core_metrics_extractor.h"

#include <fmt/format.h>

namespace llmd::sched::plugins {

void decode(config::MapReader& m, CoreMetricsExtractorParams& p) {
  if (m.read("defaultEngine", p.default_engine) && p.default_engine != "vllm" &&
      p.default_engine != "sglang") {
    m.error("defaultEngine",
            fmt::format("engine \"{}\" is not built into llmd; expected vllm or sglang", p.default_engine));
  }
  if (m.has("engineConfigs")) {
    m.raw("engineConfigs");
    m.error("engineConfigs",
            "not supported by this build (llmd reads vLLM's and SGLang's metric names; choose one per "
            "endpoint with "
            "the llm-d.ai/engine-type label)");
  }
}

Result<std::shared_ptr<Plugin>> create_core_metrics_extractor(const PluginArgs& args) {
  return make_plugin<CoreMetricsExtractor, CoreMetricsExtractorParams>(args);
}

}  // namespace llmd::sched::plugins
