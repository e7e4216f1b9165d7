#pragma once
// round-robin: our baseline for comparisons (not an llm-d plugin): endpoints in turn, ignoring scores. A
// profile with only this picker behaves like Kubernetes Service round-robin.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kRoundRobinPickerType = "round-robin";

struct RoundRobinPickerParams {
  int64_t max_num_of_endpoints = 1;
};
void decode(config::MapReader& m, RoundRobinPickerParams& p);

class RoundRobinPicker final : public Plugin, public Picker {
 public:
  RoundRobinPicker(TypedName tn, RoundRobinPickerParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(params) {}
  void pick(const SchedulingContext& ctx, std::vector<ScoredCandidate>& scored,
            std::vector<ScoredCandidate>& out) const override;

 private:
  RoundRobinPickerParams params_;
  mutable std::atomic<uint64_t> next_{0};
};

Result<std::shared_ptr<Plugin>> create_round_robin(const PluginArgs& args);

}  // namespace llmd::sched::plugins
