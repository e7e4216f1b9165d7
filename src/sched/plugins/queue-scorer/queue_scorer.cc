#include "sched/plugins/queue-scorer/queue_scorer.h"

#include <algorithm>
#include <vector>

namespace llmd::sched::plugins {

void min_max_inverse(std::span<const double> values, std::span<double> out) {
  if (values.empty()) return;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const double min = *lo;
  const double max = *hi;
  for (size_t i = 0; i < values.size(); ++i) out[i] = max == min ? 1.0 : (max - values[i]) / (max - min);
}

void QueueScorer::score(const SchedulingContext&, std::span<const Candidate> candidates,
                        std::span<double> out) const {
  std::vector<double> q(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    q[i] = static_cast<double>(candidates[i].endpoint->metrics->waiting_queue_size);
  }
  min_max_inverse(q, out);
}

Result<std::shared_ptr<Plugin>> create_queue_scorer(const PluginArgs& args) {
  return make_plugin_without_params<QueueScorer>(args);
}

}  // namespace llmd::sched::plugins
