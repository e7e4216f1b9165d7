#include "sched/plugins/kv-cache-utilization-scorer/kv_cache_utilization_scorer.h"

namespace llmd::sched::plugins {

void KvCacheUtilizationScorer::score(const SchedulingContext&, std::span<const Candidate> candidates,
                                     std::span<double> out) const {
  for (size_t i = 0; i < candidates.size(); ++i)
    out[i] = 1.0 - candidates[i].endpoint->metrics->kv_cache_usage;
}

Result<std::shared_ptr<Plugin>> create_kv_cache_utilization_scorer(const PluginArgs& args) {
  return make_plugin_without_params<KvCacheUtilizationScorer>(args);
}

}  // namespace llmd::sched::plugins
