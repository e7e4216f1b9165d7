#pragma once
// prefix-cache-affinity-filter: keeps only "sticky" endpoints (prefix match ratio >= threshold) unless
// exploring or unless sticking would cost too much queueing (llm-d-router
// pkg/epp/framework/plugins/scheduling/filter/prefixcacheaffinity).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kPrefixCacheAffinityFilterType = "prefix-cache-affinity-filter";

struct PrefixCacheAffinityParams {
  double affinity_threshold = 0.80;
  double exploration_probability = 0.0;
  int64_t max_ttft_penalty_ms = 18000;       // 0 = always stick
  double peak_prefill_throughput = 15928.0;  // tokens/s, for TTFT = in-flight tokens / throughput
  // Token-space form of the same gate, used by llm-d's optimized-baseline values (0 = off). Its
  // semantics are not in upstream's README; we apply it like maxTTFTPenaltyMs, on in-flight tokens.
  int64_t max_tokens_in_flight_penalty = 0;
};
void decode(config::MapReader& m, PrefixCacheAffinityParams& p);

class PrefixCacheAffinityFilter final : public Plugin, public Filter {
 public:
  PrefixCacheAffinityFilter(TypedName tn, PrefixCacheAffinityParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(params) {}
  std::vector<std::string> consumes() const override;
  void filter(const SchedulingContext& ctx, CandidateList& candidates) const override;

 private:
  PrefixCacheAffinityParams params_;
};

Result<std::shared_ptr<Plugin>> create_prefix_cache_affinity_filter(const PluginArgs& args);

}  // namespace llmd::sched::plugins
