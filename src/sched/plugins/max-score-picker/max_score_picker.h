#pragma once
// max-score-picker: the highest total score wins; ties are broken uniformly at random by a shuffle followed
// by a stable sort (llm-d-router pkg/epp/framework/plugins/scheduling/picker/maxscore).

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kMaxScorePickerType = "max-score-picker";

struct MaxScorePickerParams {
  int64_t max_num_of_endpoints = 1;
};
void decode(config::MapReader& m, MaxScorePickerParams& p);

class MaxScorePicker final : public Plugin, public Picker {
 public:
  MaxScorePicker(TypedName tn, MaxScorePickerParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(params) {}
  void pick(const SchedulingContext& ctx, std::vector<ScoredCandidate>& scored,
            std::vector<ScoredCandidate>& out) const override;

 private:
  MaxScorePickerParams params_;
};

Result<std::shared_ptr<Plugin>> create_max_score_picker(const PluginArgs& args);

}  // namespace llmd::sched::plugins

namespace llmd::sched::plugins {
// Fisher–Yates with the cycle's injected Rng; shared by the pickers.
void shuffle_candidates(Rng& rng, std::vector<ScoredCandidate>& v);
}  // namespace llmd::sched::plugins
