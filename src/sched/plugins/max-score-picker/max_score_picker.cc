#include "sched/plugins/max-score-picker/max_score_picker.h"

#include <algorithm>

namespace llmd::sched::plugins {

void decode(config::MapReader& m, MaxScorePickerParams& p) {
  if (m.read("maxNumOfEndpoints", p.max_num_of_endpoints) && p.max_num_of_endpoints < 1) {
    m.error("maxNumOfEndpoints", "must be >= 1");
  }
}

void shuffle_candidates(Rng& rng, std::vector<ScoredCandidate>& v) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

void MaxScorePicker::pick(const SchedulingContext& ctx, std::vector<ScoredCandidate>& scored,
                          std::vector<ScoredCandidate>& out) const {
  shuffle_candidates(ctx.rng, scored);
  out.clear();
  if (scored.empty()) return;
  if (params_.max_num_of_endpoints == 1) {
    // The first element of a stable descending sort is the first maximum in shuffled order.
    auto best = scored.begin();
    for (auto it = scored.begin() + 1; it != scored.end(); ++it) {
      if (it->score > best->score) best = it;
    }
    out.push_back(*best);
    return;
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const ScoredCandidate& a, const ScoredCandidate& b) { return a.score > b.score; });
  const size_t n = std::min(scored.size(), static_cast<size_t>(params_.max_num_of_endpoints));
  out.assign(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n));
}

Result<std::shared_ptr<Plugin>> create_max_score_picker(const PluginArgs& args) {
  return make_plugin<MaxScorePicker, MaxScorePickerParams>(args);
}

}  // namespace llmd::sched::plugins
