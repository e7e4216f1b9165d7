#include "sched/plugins/token-load-scorer/token_load_scorer.h"

#include <algorithm>

namespace llmd::sched::plugins {

void decode(config::MapReader& m, TokenLoadParams& p) {
  if (m.read("queueThresholdTokens", p.queue_threshold_tokens) && p.queue_threshold_tokens <= 0) {
    m.error("queueThresholdTokens", "must be > 0");
  }
}

void TokenLoadScorer::score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
                            std::span<double> out) const {
  auto data = ctx.state.get<InflightData>(kInflightLoadKey);
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate& c = candidates[i];
    const int64_t tokens =
        data != nullptr && c.index < data->by_candidate.size() ? data->by_candidate[c.index].tokens : 0;
    out[i] = 1.0 -
             std::min(1.0, static_cast<double>(tokens) / static_cast<double>(params_.queue_threshold_tokens));
  }
}

Result<std::shared_ptr<Plugin>> create_token_load_scorer(const PluginArgs& args) {
  return make_plugin<TokenLoadScorer, TokenLoadParams>(args);
}

}  // namespace llmd::sched::plugins
