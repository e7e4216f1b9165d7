#pragma once
// weighted-random-picker: endpoints drawn with probability proportional to score, without replacement
// (Efraimidis–Spirakis A-Res, llm-d-router pkg/epp/framework/plugins/scheduling/picker/weightedrandom).

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kWeightedRandomPickerType = "weighted-random-picker";

struct WeightedRandomPickerParams {
  int64_t max_num_of_endpoints = 1;
};
void decode(config::MapReader& m, WeightedRandomPickerParams& p);

class WeightedRandomPicker final : public Plugin, public Picker {
 public:
  WeightedRandomPicker(TypedName tn, WeightedRandomPickerParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(params) {}
  void pick(const SchedulingContext& ctx, std::vector<ScoredCandidate>& scored,
            std::vector<ScoredCandidate>& out) const override;

 private:
  WeightedRandomPickerParams params_;
};

Result<std::shared_ptr<Plugin>> create_weighted_random_picker(const PluginArgs& args);

}  // namespace llmd::sched::plugins
