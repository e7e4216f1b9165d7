#include "sched/plugins/approx-prefix-cache-producer/approx_prefix_cache_producer.h"

#include <algorithm>

#include "log/log.h"
#include "sched/plugins/approx-prefix-cache-producer/prefix_hash.h"

namespace llmd::sched::plugins {

void decode(config::MapReader& m, ApproxPrefixParams& p) {
  const bool has_tokens = m.read("blockSizeTokens", p.block_size_tokens);
  if (has_tokens && p.block_size_tokens <= 0) m.error("blockSizeTokens", "must be > 0");
  // GIE's block size in characters, which llm-d deprecated in favour of blockSizeTokens: ignored beside
  // it, an error alone (llm-d-router approximateprefix: "BlockSize is deprecated, use BlockSizeTokens").
  int64_t chars = 0;
  if (m.read("blockSize", chars)) {
    if (!has_tokens) {
      m.error("blockSize", "deprecated block size in characters; give blockSizeTokens (in tokens) instead");
    } else {
      log::warn("deprecated parameter ignored", log::kv("path", m.path() + ".blockSize"),
                log::kv("use", "blockSizeTokens"));
    }
  }
  m.read("autoTune", p.auto_tune);
  if (m.read("maxPrefixTokensToMatch", p.max_prefix_tokens_to_match) && p.max_prefix_tokens_to_match < 0) {
    m.error("maxPrefixTokensToMatch", "must be >= 0");
  }
  if (m.read("maxPrefixBlocksToMatch", p.max_prefix_blocks_to_match) && p.max_prefix_blocks_to_match < 0) {
    m.error("maxPrefixBlocksToMatch", "must be >= 0");
  }
  if (m.read("lruCapacityPerServer", p.lru_capacity_per_server) && p.lru_capacity_per_server <= 0) {
    m.error("lruCapacityPerServer", "must be > 0");
  }
}

ApproxPrefixCacheProducer::ApproxPrefixCacheProducer(TypedName tn, ApproxPrefixParams params,
                                                     const PluginArgs& args)
    : Plugin(std::move(tn)),
      params_(params),
      key_(prefix_match_key(typed_name().name)),
      index_(*args.clock) {}

std::optional<std::string> ApproxPrefixCacheProducer::parameter_value(std::string_view key) const {
  if (key == "blockSizeTokens") return std::to_string(params_.block_size_tokens);
  if (key == "autoTune") return params_.auto_tune ? "true" : "false";
  if (key == "maxPrefixTokensToMatch") return std::to_string(params_.max_prefix_tokens_to_match);
  if (key == "maxPrefixBlocksToMatch") return std::to_string(params_.max_prefix_blocks_to_match);
  if (key == "lruCapacityPerServer") return std::to_string(params_.lru_capacity_per_server);
  return std::nullopt;
}

int64_t ApproxPrefixCacheProducer::block_size_for(const Endpoint* first) const {
  int64_t bs = params_.block_size_tokens;
  if (params_.auto_tune && first != nullptr && first->metrics->cache_block_size > 0) {
    bs = first->metrics->cache_block_size;
  }
  return std::max(bs, kMinBlockSizeTokens);
}

size_t ApproxPrefixCacheProducer::max_blocks_for(int64_t block_size) const {
  if (params_.max_prefix_tokens_to_match > 0) {
    return static_cast<size_t>(std::max<int64_t>(1, params_.max_prefix_tokens_to_match / block_size));
  }
  return static_cast<size_t>(params_.max_prefix_blocks_to_match);
}

void ApproxPrefixCacheProducer::produce(SchedulingContext& ctx) const {
  auto data = std::make_shared<PrefixMatchData>();
  data->by_candidate.resize(ctx.candidates.size());
  const int64_t bs = block_size_for(ctx.candidates.empty() ? nullptr : ctx.candidates.front().endpoint);
  data->block_size_tokens = bs;
  auto hashes = std::make_shared<std::vector<uint64_t>>();
  if (auto tokens = ctx.state.get<TokenizedPrompt>(kTokenizedPromptKey); tokens != nullptr) {
    const uint64_t seed = prefix_hash_seed(ctx.request.effective_model(), ctx.request.cache_salt);
    chained_block_hashes(tokens->bytes, static_cast<size_t>(bs), max_blocks_for(bs), seed, *hashes);
  }
  const auto total = static_cast<int64_t>(hashes->size());
  auto view = index_.view();
  for (const auto& c : ctx.candidates) {
    auto& info = data->by_candidate[c.index];
    info.total_blocks = total;
    info.block_size_tokens = bs;
    info.match_blocks = total == 0 ? 0 : PrefixIndex::match(*view, c.endpoint->uid, *hashes);
    info.cached_block_count = info.match_blocks;
  }
  data->hashes = std::move(hashes);
  ctx.state.put(key_, std::move(data));
}

Result<void> ApproxPrefixCacheProducer::register_metrics(metrics::Registry& registry) {
  const auto& tn = typed_name();
  auto hit = registry.histogram_family("llm_d_epp_prefix_indexer_hit_ratio",
                                       "Fraction of a request's prefix blocks cached on the chosen endpoint.",
                                       {"plugin_name", "plugin_type"},
                                       {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0});
  if (!hit) return hit.error();
  hit_ratio_ = &(*hit)->with({tn.name, tn.type});
  auto size = registry.gauge_family("llm_d_epp_prefix_indexer_size", "Block hashes held by the prefix index.",
                                    {"plugin_name", "plugin_type"});
  if (!size) return size.error();
  return (*size)->with_callback({tn.name, tn.type},
                                [this] { return static_cast<double>(index_.stats().entries); });
}

void ApproxPrefixCacheProducer::pre_request(const SchedulingContext& ctx, SchedulingResult& result) const {
  auto data = ctx.state.get<PrefixMatchData>(key_);
  if (data == nullptr) return;
  if (const ScoredEndpoint* target = result.primary_target();
      hit_ratio_ != nullptr && target != nullptr && target->candidate_index < data->by_candidate.size()) {
    const auto& info = data->by_candidate[target->candidate_index];
    if (info.total_blocks > 0) {
      hit_ratio_->observe(static_cast<double>(info.match_blocks) / static_cast<double>(info.total_blocks));
    }
  }
  if (data->hashes == nullptr || data->hashes->empty()) return;
  auto record = [&](const Endpoint* e) {
    if (e == nullptr) return;
    const int64_t blocks = params_.auto_tune && e->metrics->cache_num_gpu_blocks > 0
                               ? e->metrics->cache_num_gpu_blocks
                               : params_.lru_capacity_per_server;
    index_.add(e->uid, static_cast<size_t>(blocks), data->hashes, result.snapshot);
  };
  const Endpoint* primary = result.primary_endpoint();
  record(primary);
  if (const ProfileRun* prefill = result.find(kPrefillProfileName);
      prefill != nullptr && prefill->ok && !prefill->targets.empty() &&
      prefill->targets.front().endpoint.get() != primary) {
    record(prefill->targets.front().endpoint.get());
  }
}

Result<std::shared_ptr<Plugin>> create_approx_prefix_cache_producer(const PluginArgs& args) {
  return make_plugin<ApproxPrefixCacheProducer, ApproxPrefixParams>(args);
}

}  // namespace llmd::sched::plugins
