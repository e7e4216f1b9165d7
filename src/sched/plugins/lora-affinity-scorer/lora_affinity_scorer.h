#pragma once
// lora-affinity-scorer: prefers endpoints where the target model (LoRA adapter) is active or can be loaded
// (llm-d-router pkg/epp/framework/plugins/scheduling/scorer/loraaffinity).

#include <memory>
#include <span>
#include <string_view>

#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kLoraAffinityScorerType = "lora-affinity-scorer";

class LoraAffinityScorer final : public Plugin, public Scorer {
 public:
  explicit LoraAffinityScorer(TypedName tn) : Plugin(std::move(tn)) {}
  ScorerCategory category() const override { return ScorerCategory::kAffinity; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;
};

Result<std::shared_ptr<Plugin>> create_lora_affinity_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
