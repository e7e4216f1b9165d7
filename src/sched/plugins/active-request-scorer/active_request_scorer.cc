#include "sched/plugins/active-request-scorer/active_request_scorer.h"

#include <algorithm>

namespace llmd::sched::plugins {

void decode(config::MapReader& m, ActiveRequestParams& p) {
  if (m.read("idleThreshold", p.idle_threshold) && p.idle_threshold < 0)
    m.error("idleThreshold", "must be >= 0");
  if (m.read("maxBusyScore", p.max_busy_score) && !(p.max_busy_score >= 0 && p.max_busy_score <= 1)) {
    m.error("maxBusyScore", "must be in [0, 1]");
  }
  m.read("requestTimeout", p.request_timeout);
}

void ActiveRequestScorer::score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
                                std::span<double> out) const {
  auto data = ctx.state.get<InflightData>(kInflightLoadKey);
  auto count = [&](const Candidate& c) -> int64_t {
    return data != nullptr && c.index < data->by_candidate.size() ? data->by_candidate[c.index].requests : 0;
  };
  int64_t max_count = 0;
  for (const auto& c : candidates) max_count = std::max(max_count, count(c));
  for (size_t i = 0; i < candidates.size(); ++i) {
    const int64_t n = count(candidates[i]);
    if (n <= params_.idle_threshold || max_count <= 0) {
      out[i] = 1.0;
    } else {
      out[i] = static_cast<double>(max_count - n) / static_cast<double>(max_count) * params_.max_busy_score;
    }
  }
}

Result<std::shared_ptr<Plugin>> create_active_request_scorer(const PluginArgs& args) {
  return make_plugin<ActiveRequestScorer, ActiveRequestParams>(args);
}

}  // namespace llmd::sched::plugins
