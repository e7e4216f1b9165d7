#include "sched/plugins/running-requests-size-scorer/running_requests_size_scorer.h"

#include <vector>

#include "sched/plugins/queue-scorer/queue_scorer.h"

namespace llmd::sched::plugins {

void RunningRequestsSizeScorer::score(const SchedulingContext&, std::span<const Candidate> candidates,
                                      std::span<double> out) const {
  std::vector<double> r(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    r[i] = static_cast<double>(candidates[i].endpoint->metrics->running_requests_size);
  }
  min_max_inverse(r, out);
}

Result<std::shared_ptr<Plugin>> create_running_requests_size_scorer(const PluginArgs& args) {
  return make_plugin_without_params<RunningRequestsSizeScorer>(args);
}

}  // namespace llmd::sched::plugins
