#pragma once
// random-picker: uniformly random endpoints, ignoring scores (llm-d-router
// pkg/epp/framework/plugins/scheduling/picker/random).

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kRandomPickerType = "random-picker";

struct RandomPickerParams {
  int64_t max_num_of_endpoints = 1;
};
void decode(config::MapReader& m, RandomPickerParams& p);

class RandomPicker final : public Plugin, public Picker {
 public:
  RandomPicker(TypedName tn, RandomPickerParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(params) {}
  void pick(const SchedulingContext& ctx, std::vector<ScoredCandidate>& scored,
            std::vector<ScoredCandidate>& out) const override;

 private:
  RandomPickerParams params_;
};

Result<std::shared_ptr<Plugin>> create_random_picker(const PluginArgs& args);

}  // namespace llmd::sched::plugins
