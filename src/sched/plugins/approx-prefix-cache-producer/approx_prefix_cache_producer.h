#pragma once
// approx-prefix-cache-producer: estimates, per endpoint, how much of the request's prefix it has
// cached, from the requests routed to it before (llm-d's approximate prefix-cache mode,
// llm-d-router pkg/epp/framework/plugins/scheduling/scorer/prefix). DataProducer
// (PrefixCacheMatchInfo for every candidate) and PreRequest (records the chosen endpoints' blocks).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/data.h"
#include "sched/handover.h"
#include "sched/metrics_source.h"
#include "sched/plugin.h"
#include "sched/plugins/approx-prefix-cache-producer/prefix_index.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kApproxPrefixCacheProducerType = "approx-prefix-cache-producer";
// Blocks are never smaller than this many tokens (llm-d issue #1158: memory blow-up with 16).
inline constexpr int64_t kMinBlockSizeTokens = 64;
// A profile with this exact name also gets the request's blocks recorded (llm-d hard-codes it).
inline constexpr std::string_view kPrefillProfileName = "prefill";

struct ApproxPrefixParams {
  int64_t block_size_tokens = 16;
  bool auto_tune = true;  // block size and LRU capacity from the endpoints' cache_config_info
  int64_t max_prefix_tokens_to_match = 131072;
  int64_t max_prefix_blocks_to_match = 2048;  // used when max_prefix_tokens_to_match is 0
  int64_t lru_capacity_per_server = 31250;
};
void decode(config::MapReader& m, ApproxPrefixParams& p);

class ApproxPrefixCacheProducer final : public Plugin,
                                        public DataProducer,
                                        public PreRequest,
                                        public MetricsSource,
                                        public DescribesParameters {
 public:
  ApproxPrefixCacheProducer(TypedName tn, ApproxPrefixParams params, const PluginArgs& args);

  std::vector<std::string> consumes() const override { return {std::string(kTokenizedPromptKey)}; }
  std::vector<std::string> produces() const override { return {key_}; }
  void produce(SchedulingContext& ctx) const override;
  void pre_request(const SchedulingContext& ctx, SchedulingResult& result) const override;

  // Effective block size for a cycle whose first candidate is `first`.
  int64_t block_size_for(const Endpoint* first) const;
  // Blocks compared per request (0 = all) for a block size.
  size_t max_blocks_for(int64_t block_size) const;

  const PrefixIndex& index() const { return index_; }

  // DescribesParameters: blockSizeTokens, autoTune, maxPrefixTokensToMatch, maxPrefixBlocksToMatch,
  // lruCapacityPerServer as configured (before auto-tuning).
  std::optional<std::string> parameter_value(std::string_view key) const override;

  // MetricsSource: llm_d_epp_prefix_indexer_size (blocks held) and llm_d_epp_prefix_indexer_hit_ratio
  // (the share of a request's blocks cached on the endpoint it was sent to, observed at PreRequest).
  Result<void> register_metrics(metrics::Registry& registry) override;

 private:
  ApproxPrefixParams params_;
  std::string key_;  // prefix_match_key(name), built once: it is looked up twice per request
  mutable PrefixIndex index_;
  metrics::Histogram* hit_ratio_ = nullptr;  // set by register_metrics; null when nobody listens
};

Result<std::shared_ptr<Plugin>> create_approx_prefix_cache_producer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
