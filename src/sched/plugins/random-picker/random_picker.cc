#include "sched/plugins/random-picker/random_picker.h"

#include <algorithm>

#include "sched/plugins/max-score-picker/max_score_picker.h"

namespace llmd::sched::plugins {

void decode(config::MapReader& m, RandomPickerParams& p) {
  if (m.read("maxNumOfEndpoints", p.max_num_of_endpoints) && p.max_num_of_endpoints < 1) {
    m.error("maxNumOfEndpoints", "must be >= 1");
  }
}

void RandomPicker::pick(const SchedulingContext& ctx, std::vector<ScoredCandidate>& scored,
                        std::vector<ScoredCandidate>& out) const {
  shuffle_candidates(ctx.rng, scored);
  const size_t n = std::min(scored.size(), static_cast<size_t>(params_.max_num_of_endpoints));
  out.assign(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n));
}

Result<std::shared_ptr<Plugin>> create_random_picker(const PluginArgs& args) {
  return make_plugin<RandomPicker, RandomPickerParams>(args);
}

}  // namespace llmd::sched::plugins
