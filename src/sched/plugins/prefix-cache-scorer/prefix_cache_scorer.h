#pragma once
// prefix-cache-scorer: scores each endpoint by how much of the request's prefix it holds, from the
// PrefixCacheMatchInfo a prefix producer wrote (llm-d-router
// pkg/epp/framework/plugins/scheduling/scorer/prefix):
//   w · min(1, MatchBlocks·BlockSize / matchLengthScaleTokens)² + (1 − w) · MatchBlocks/TotalBlocks.

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

inline constexpr std::string_view kPrefixCacheScorerType = "prefix-cache-scorer";

struct PrefixCacheScorerParams {
  double match_length_weight = 0.0;
  int64_t match_length_scale_tokens = 8192;
  std::string prefix_match_info_producer_name{kDefaultPrefixProducer};
};
void decode(config::MapReader& m, PrefixCacheScorerParams& p);

double prefix_cache_score(const PrefixCacheMatchInfo& info, const PrefixCacheScorerParams& p);

class PrefixCacheScorer final : public Plugin, public Scorer {
 public:
  PrefixCacheScorer(TypedName tn, PrefixCacheScorerParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)),
        params_(std::move(params)),
        key_(prefix_match_key(params_.prefix_match_info_producer_name)) {}
  std::vector<std::string> consumes() const override { return {key_}; }
  ScorerCategory category() const override { return ScorerCategory::kAffinity; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;
  const std::string& producer_name() const { return params_.prefix_match_info_producer_name; }

 private:
  PrefixCacheScorerParams params_;
  std::string key_;
};

Result<std::shared_ptr<Plugin>> create_prefix_cache_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
