#pragma once
// queue-scorer: min-max normalised waiting queue, (max − q)/(max − min); 1 for all when equal (llm-d-router
// pkg/epp/framework/plugins/scheduling/scorer/queuedepth).

#include <memory>
#include <span>
#include <string_view>

#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kQueueScorerType = "queue-scorer";

class QueueScorer final : public Plugin, public Scorer {
 public:
  explicit QueueScorer(TypedName tn) : Plugin(std::move(tn)) {}
  ScorerCategory category() const override { return ScorerCategory::kDistribution; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;
};

Result<std::shared_ptr<Plugin>> create_queue_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins

namespace llmd::sched::plugins {
// Shared by queue-scorer and running-requests-size-scorer: (max − v)/(max − min), 1 when all equal.
void min_max_inverse(std::span<const double> values, std::span<double> out);
}  // namespace llmd::sched::plugins
