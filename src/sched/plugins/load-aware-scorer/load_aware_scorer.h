#pragma once
// load-aware-scorer: 0.5 for an empty queue, falling linearly to 0 at `threshold` waiting requests
// (llm-d-router pkg/epp/framework/plugins/scheduling/scorer/loadaware). The maximum is 0.5 by design.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "config/config.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kLoadAwareScorerType = "load-aware-scorer";

struct LoadAwareParams {
  int64_t threshold = 128;
};
void decode(config::MapReader& m, LoadAwareParams& p);

double load_aware_score(int64_t waiting, int64_t threshold);

class LoadAwareScorer final : public Plugin, public Scorer {
 public:
  LoadAwareScorer(TypedName tn, LoadAwareParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(params) {}
  ScorerCategory category() const override { return ScorerCategory::kDistribution; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;

 private:
  LoadAwareParams params_;
};

Result<std::shared_ptr<Plugin>> create_load_aware_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
