#pragma once
// prefix-cache-scorer: scores each endpoint by how much of the request's prefix it holds, from the
// PrefixCacheMatchInfo a prefix producer wrote (llm-d-router
// pkg/epp/framework/plugins/scheduling/scorer/prefix):
//   w · min(1, MatchBlocks·BlockSize / matchLengthScaleTokens)² + (1 − w) · MatchBlocks/TotalBlocks.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/data.h"
#include "sched/handover.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kPrefixCacheScorerType = "prefix-cache-scorer";

// Parameters of approx-prefix-cache-producer that older configs give the scorer, which owned the prefix
// index before the producer was split out of it (see sched/handover.h).
inline constexpr std::string_view kHandedOverProducerKeys[] = {"autoTune",
                                                               "blockSizeTokens",
                                                               "blockSize",
                                                               "maxPrefixBlocksToMatch",
                                                               "maxPrefixTokensToMatch",
                                                               "lruCapacityPerServer"};
// GIE v0.5's block size in characters (GIE site-src/guides/epp-configuration/config-text.md); handed over as
// blockSizeTokens at GIE's estimate of 4 characters per token, unless blockSizeTokens is given too.
inline constexpr std::string_view kHashBlockSizeKey = "hashBlockSize";
inline constexpr int64_t kCharactersPerToken = 4;

struct PrefixCacheScorerParams {
  double match_length_weight = 0.0;
  int64_t match_length_scale_tokens = 8192;
  std::string prefix_match_info_producer_name{kDefaultPrefixProducer};
  // The producer's parameters given here (absent: none), a mapping at `<plugin>.parameters`.
  config::Node producer_parameters;
};
void decode(config::MapReader& m, PrefixCacheScorerParams& p);

double prefix_cache_score(const PrefixCacheMatchInfo& info, const PrefixCacheScorerParams& p);

class PrefixCacheScorer final : public Plugin, public Scorer, public CarriesProducerParameters {
 public:
  PrefixCacheScorer(TypedName tn, PrefixCacheScorerParams params, const PluginArgs& = {});
  std::vector<std::string> consumes() const override { return {key_}; }
  ScorerCategory category() const override { return ScorerCategory::kAffinity; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;
  const std::string& producer_name() const { return params_.prefix_match_info_producer_name; }
  // The approximate producer's parameters when the configuration put some on this scorer.
  const HandedOverParameters* handed_over_parameters() const override {
    return handed_over_ ? &*handed_over_ : nullptr;
  }

 private:
  PrefixCacheScorerParams params_;
  std::string key_;
  std::optional<HandedOverParameters> handed_over_;
};

Result<std::shared_ptr<Plugin>> create_prefix_cache_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
