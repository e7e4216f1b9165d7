#pragma once
// kv-cache-utilization-scorer: 1 − KV-cache usage fraction (llm-d-router
// pkg/epp/framework/plugins/scheduling/scorer/kvcacheutilization). Deprecated alias kv-cache-scorer.

#include <memory>
#include <span>
#include <string_view>

#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kKvCacheUtilizationScorerType = "kv-cache-utilization-scorer";
inline constexpr std::string_view kKvCacheUtilizationScorerAlias = "kv-cache-scorer";

class KvCacheUtilizationScorer final : public Plugin, public Scorer {
 public:
  explicit KvCacheUtilizationScorer(TypedName tn) : Plugin(std::move(tn)) {}
  ScorerCategory category() const override { return ScorerCategory::kDistribution; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;
};

Result<std::shared_ptr<Plugin>> create_kv_cache_utilization_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
