#pragma once
// no-hit-lru-scorer: spreads cold requests (no candidate has any cached prefix block) over endpoints
// that have served cold requests least recently, so new prefixes land on different endpoints
// (llm-d-router pkg/epp/framework/plugins/scheduling/scorer/nohitlru). Warm requests get a neutral 0.5
// everywhere. The LRU is a per-endpoint stamp from a global counter, updated lock-free at PreRequest.

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/data.h"
#include "sched/endpoint_state.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kNoHitLruScorerType = "no-hit-lru-scorer";

struct NoHitLruParams {
  std::string prefix_plugin_type = "prefix-cache-scorer";
  std::string prefix_plugin_name = "prefix-cache-scorer";
  int64_t lru_size = 1024;  // endpoints remembered; older ones count as never used
  bool prefix_plugin_name_set = false;
};
void decode(config::MapReader& m, NoHitLruParams& p);

class NoHitLruScorer final : public Plugin, public Scorer, public PreRequest {
 public:
  NoHitLruScorer(TypedName tn, NoHitLruParams params, const PluginArgs& = {});
  // Finds the PrefixCacheMatchInfo producer through the named prefix plugin.
  Result<void> bind(const PluginLookup& lookup) override;
  std::vector<std::string> consumes() const override { return {key_}; }
  ScorerCategory category() const override { return ScorerCategory::kDistribution; }
  void score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
             std::span<double> out) const override;
  void pre_request(const SchedulingContext& ctx, SchedulingResult& result) const override;

 private:
  struct Stamp {
    std::atomic<uint64_t> last{0};
  };
  bool cold(const SchedulingContext& ctx, std::span<const Candidate> candidates) const;

  NoHitLruParams params_;
  std::string key_;
  mutable std::atomic<uint64_t> seq_{0};
  mutable EndpointStateMap<Stamp> stamps_;
};

Result<std::shared_ptr<Plugin>> create_no_hit_lru_scorer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
