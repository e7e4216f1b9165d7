#pragma once
// running-requests-size-scorer: min-max normalised running requests, like queue-scorer (llm-d-router
// pkg/epp/framework/plugins/scheduling/scorer/runningrequests).

#include <memory>
#include <span>
#include <string_view>

#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kRunningRequestsSizeScorerType = "running-requests-size-scorer";

class RunningRequestsSizeScorer final : public Plugin, public Scorer {
 public:
  explicit RunningRequestsSizeScorer(TypedName tn) : Plugin(std::move(tn)) {}
  ScorerCategory category() const override { return ScorerCategory::kDistribution; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;
};

Result<std::shared_ptr<Plugin>> create_running_requests_size_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
