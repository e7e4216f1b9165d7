#include "sched/plugins/weighted-random-picker/weighted_random_picker.h"

#include <algorithm>
#include <cmath>

#include "sched/plugins/max-score-picker/max_score_picker.h"

namespace llmd::sched::plugins {

void decode(config::MapReader& m, WeightedRandomPickerParams& p) {
  if (m.read("maxNumOfEndpoints", p.max_num_of_endpoints) && p.max_num_of_endpoints < 1) {
    m.error("maxNumOfEndpoints", "must be >= 1");
  }
}

void WeightedRandomPicker::pick(const SchedulingContext& ctx, std::vector<ScoredCandidate>& scored,
                                std::vector<ScoredCandidate>& out) const {
  const size_t n = std::min(scored.size(), static_cast<size_t>(params_.max_num_of_endpoints));
  const bool any_positive =
      std::any_of(scored.begin(), scored.end(), [](const ScoredCandidate& s) { return s.score > 0; });
  if (!any_positive) {  // all zero: plain random choice
    shuffle_candidates(ctx.rng, scored);
    out.assign(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n));
    return;
  }
  // A-Res: key = u^(1/w) with u uniform in (0,1]; the n largest keys are a weighted sample without
  // replacement. Zero-score endpoints get key 0, so they come last.
  std::vector<std::pair<double, size_t>> keys(scored.size());
  for (size_t i = 0; i < scored.size(); ++i) {
    const double u = 1.0 - ctx.rng.uniform();
    keys[i] = {scored[i].score > 0 ? std::pow(u, 1.0 / scored[i].score) : 0.0, i};
  }
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  out.clear();
  for (size_t k = 0; k < n; ++k) out.push_back(scored[keys[k].second]);
}

Result<std::shared_ptr<Plugin>> create_weighted_random_picker(const PluginArgs& args) {
  return make_plugin<WeightedRandomPicker, WeightedRandomPickerParams>(args);
}

}  // namespace llmd::sched::plugins
