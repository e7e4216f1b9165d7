#pragma once
// token-load-scorer: 1 − min(1, in-flight tokens / queueThresholdTokens), with in-flight tokens from
// inflight-load-producer (llm-d-router pkg/epp/framework/plugins/scheduling/scorer/tokenload).

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

inline constexpr std::string_view kTokenLoadScorerType = "token-load-scorer";

struct TokenLoadParams {
  int64_t queue_threshold_tokens = 4194304;
};
void decode(config::MapReader& m, TokenLoadParams& p);

class TokenLoadScorer final : public Plugin, public Scorer {
 public:
  TokenLoadScorer(TypedName tn, TokenLoadParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(params) {}
  std::vector<std::string> consumes() const override { return {std::string(kInflightLoadKey)}; }
  ScorerCategory category() const override { return ScorerCategory::kDistribution; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;

 private:
  TokenLoadParams params_;
};

Result<std::shared_ptr<Plugin>> create_token_load_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
