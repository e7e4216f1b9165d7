#include "sched/plugins/prefix-cache-scorer/prefix_cache_scorer.h"

#include <algorithm>
#include <utility>

#include "log/log.h"

namespace llmd::sched::plugins {

void decode(config::MapReader& m, PrefixCacheScorerParams& p) {
  if (m.read("matchLengthWeight", p.match_length_weight) &&
      !(p.match_length_weight >= 0 && p.match_length_weight <= 1)) {
    m.error("matchLengthWeight", "must be in [0, 1]");
  }
  if (m.read("matchLengthScaleTokens", p.match_length_scale_tokens) && p.match_length_scale_tokens <= 0) {
    m.error("matchLengthScaleTokens", "must be > 0");
  }
  if (m.read("prefixMatchInfoProducerName", p.prefix_match_info_producer_name) &&
      p.prefix_match_info_producer_name.empty()) {
    m.error("prefixMatchInfoProducerName", "must not be empty");
  }

  // The producer's parameters are collected undecoded: the producer's factory checks them, with their
  // paths here (plugins[i].parameters.lruCapacityPerServer).
  YAML::Node handed(YAML::NodeType::Map);
  for (std::string_view key : kHandedOverProducerKeys) {
    if (!m.has(key)) continue;
    const config::Node n = m.raw(key);
    if (!n.is_null()) handed[std::string(key)] = n.yaml();
  }
  int64_t chars = 0;
  if (m.read(kHashBlockSizeKey, chars)) {
    if (chars <= 0) {
      m.error(kHashBlockSizeKey, "must be > 0");
    } else if (std::as_const(handed)["blockSizeTokens"].IsDefined()) {
      log::warn("deprecated parameter ignored",
                log::kv("path", m.path() + "." + std::string(kHashBlockSizeKey)),
                log::kv("use", "blockSizeTokens"));
    } else {
      handed["blockSizeTokens"] = (chars + kCharactersPerToken - 1) / kCharactersPerToken;
    }
  }
  if (handed.size() > 0) p.producer_parameters = m.node().over(handed);
}

PrefixCacheScorer::PrefixCacheScorer(TypedName tn, PrefixCacheScorerParams params, const PluginArgs&)
    : Plugin(std::move(tn)),
      params_(std::move(params)),
      key_(prefix_match_key(params_.prefix_match_info_producer_name)) {
  if (params_.producer_parameters.present()) {
    log::warn(
        "approximate prefix producer parameters given on prefix-cache-scorer; they belong on the producer",
        log::kv("path", params_.producer_parameters.path()), log::kv("producer", kDefaultPrefixProducer));
    handed_over_ = HandedOverParameters{std::string(kDefaultPrefixProducer),
                                        params_.prefix_match_info_producer_name, params_.producer_parameters};
  }
}

double prefix_cache_score(const PrefixCacheMatchInfo& info, const PrefixCacheScorerParams& p) {
  if (info.total_blocks <= 0) return 0.0;
  const double ratio = static_cast<double>(info.match_blocks) / static_cast<double>(info.total_blocks);
  if (p.match_length_weight == 0.0) return ratio;
  const double len = std::min(1.0, static_cast<double>(info.match_blocks * info.block_size_tokens) /
                                       static_cast<double>(p.match_length_scale_tokens));
  return p.match_length_weight * len * len + (1.0 - p.match_length_weight) * ratio;
}

void PrefixCacheScorer::score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
                              std::span<double> out) const {
  auto data = ctx.state.get<PrefixMatchData>(key_);
  if (data == nullptr) return;  // no info: every endpoint scores 0
  for (size_t i = 0; i < candidates.size(); ++i) {
    const uint32_t idx = candidates[i].index;
    out[i] = idx < data->by_candidate.size() ? prefix_cache_score(data->by_candidate[idx], params_) : 0.0;
  }
}

Result<std::shared_ptr<Plugin>> create_prefix_cache_scorer(const PluginArgs& args) {
  return make_plugin<PrefixCacheScorer, PrefixCacheScorerParams>(args);
}

}  // namespace llmd::sched::plugins
