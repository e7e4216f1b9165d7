#include "sched/plugins/load-aware-scorer/load_aware_scorer.h"

namespace llmd::sched::plugins {

void decode(config::MapReader& m, LoadAwareParams& p) {
  if (m.read("threshold", p.threshold) && p.threshold <= 0) m.error("threshold", "must be > 0");
}

double load_aware_score(int64_t waiting, int64_t threshold) {
  if (waiting <= 0) return 0.5;
  if (waiting >= threshold) return 0.0;
  return 0.5 * (1.0 - static_cast<double>(waiting) / static_cast<double>(threshold));
}

void LoadAwareScorer::score(const SchedulingContext&, std::span<const Candidate> candidates,
                            std::span<double> out) const {
  for (size_t i = 0; i < candidates.size(); ++i) {
    out[i] = load_aware_score(candidates[i].endpoint->metrics->waiting_queue_size, params_.threshold);
  }
}

Result<std::shared_ptr<Plugin>> create_load_aware_scorer(const PluginArgs& args) {
  return make_plugin<LoadAwareScorer, LoadAwareParams>(args);
}

}  // namespace llmd::sched::plugins
