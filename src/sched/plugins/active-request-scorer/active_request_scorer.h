#pragma once
// active-request-scorer: scores by the scheduler's own in-flight request counts (from
// inflight-load-producer): idle endpoints 1, others (max − count)/max × maxBusyScore (llm-d-router
// pkg/epp/framework/plugins/scheduling/scorer/activerequest).

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/data.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kActiveRequestScorerType = "active-request-scorer";

struct ActiveRequestParams {
  int64_t idle_threshold = 0;
  double max_busy_score = 1.0;
  // Accepted for compatibility and ignored, as upstream now does (counts come from the producer).
  std::chrono::milliseconds request_timeout{120000};
};
void decode(config::MapReader& m, ActiveRequestParams& p);

class ActiveRequestScorer final : public Plugin, public Scorer {
 public:
  ActiveRequestScorer(TypedName tn, ActiveRequestParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(params) {}
  std::vector<std::string> consumes() const override { return {std::string(kInflightLoadKey)}; }
  ScorerCategory category() const override { return ScorerCategory::kDistribution; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;

 private:
  ActiveRequestParams params_;
};

Result<std::shared_ptr<Plugin>> create_active_request_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
