#include "sched/plugins/lora-affinity-scorer/lora_affinity_scorer.h"

#include <algorithm>

namespace llmd::sched::plugins {

void LoraAffinityScorer::score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
                               std::span<double> out) const {
  const std::string& model = ctx.request.effective_model();
  auto has = [&](const std::vector<std::string>& v) {
    return std::find(v.begin(), v.end(), model) != v.end();
  };
  for (size_t i = 0; i < candidates.size(); ++i) {
    const EndpointMetrics& m = *candidates[i].endpoint->metrics;
    const auto loaded = static_cast<int64_t>(m.active_models.size() + m.waiting_models.size());
    if (has(m.active_models)) {
      out[i] = 1.0;
    } else if (loaded < m.max_active_models) {
      out[i] = 0.8;
    } else if (has(m.waiting_models)) {
      out[i] = 0.6;
    } else {
      out[i] = 0.0;
    }
  }
}

Result<std::shared_ptr<Plugin>> create_lora_affinity_scorer(const PluginArgs& args) {
  return make_plugin_without_params<LoraAffinityScorer>(args);
}

}  // namespace llmd::sched::plugins
