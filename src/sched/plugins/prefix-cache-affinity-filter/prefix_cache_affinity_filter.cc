#include "sched/plugins/prefix-cache-affinity-filter/prefix_cache_affinity_filter.h"

#include <algorithm>
#include <limits>

#include "sched/data.h"

namespace llmd::sched::plugins {
namespace {
enum class TtftSource { kPrefillThroughput, kLatencyPredictor };
constexpr config::EnumName<TtftSource> kTtftSources[] = {
    {"prefillThroughput", TtftSource::kPrefillThroughput},
    {"latencyPredictor", TtftSource::kLatencyPredictor}};
}  // namespace

void decode(config::MapReader& m, PrefixCacheAffinityParams& p) {
  if (m.read("affinityThreshold", p.affinity_threshold) &&
      !(p.affinity_threshold > 0 && p.affinity_threshold <= 1)) {
    m.error("affinityThreshold", "must be in (0, 1]");
  }
  if (m.read("explorationProbability", p.exploration_probability) &&
      !(p.exploration_probability >= 0 && p.exploration_probability <= 1)) {
    m.error("explorationProbability", "must be in [0, 1]");
  }
  if (m.read("maxTTFTPenaltyMs", p.max_ttft_penalty_ms) && p.max_ttft_penalty_ms < 0) {
    m.error("maxTTFTPenaltyMs", "must be >= 0");
  }
  TtftSource source = TtftSource::kPrefillThroughput;
  if (m.read("ttftSource", source, std::span<const config::EnumName<TtftSource>>(kTtftSources)) &&
      source == TtftSource::kLatencyPredictor) {
    m.error("ttftSource", "latencyPredictor is not supported (no latency predictor in this build)");
  }
  if (m.read("peakPrefillThroughput", p.peak_prefill_throughput) && !(p.peak_prefill_throughput > 0)) {
    m.error("peakPrefillThroughput", "must be > 0");
  }
  if (m.read("maxTokensInFlightPenalty", p.max_tokens_in_flight_penalty) &&
      p.max_tokens_in_flight_penalty < 0) {
    m.error("maxTokensInFlightPenalty", "must be >= 0");
  }
}

std::vector<std::string> PrefixCacheAffinityFilter::consumes() const {
  std::vector<std::string> keys{std::string(kDefaultPrefixMatchKey)};
  if (params_.max_ttft_penalty_ms > 0 || params_.max_tokens_in_flight_penalty > 0) {
    keys.emplace_back(kInflightLoadKey);
  }
  return keys;
}

void PrefixCacheAffinityFilter::filter(const SchedulingContext& ctx, CandidateList& candidates) const {
  auto prefix = ctx.state.get<PrefixMatchData>(kDefaultPrefixMatchKey);
  if (prefix == nullptr) return;
  auto ratio = [&](const Candidate& c) {
    if (c.index >= prefix->by_candidate.size()) return 0.0;
    const auto& info = prefix->by_candidate[c.index];
    return info.total_blocks > 0
               ? static_cast<double>(info.match_blocks) / static_cast<double>(info.total_blocks)
               : 0.0;
  };
  CandidateList sticky;
  for (const auto& c : candidates) {
    if (ratio(c) >= params_.affinity_threshold) sticky.push_back(c);
  }
  if (sticky.empty()) return;
  if (params_.exploration_probability > 0 && ctx.rng.uniform() < params_.exploration_probability) return;

  if (sticky.size() < candidates.size()) {
    auto inflight = ctx.state.get<InflightData>(kInflightLoadKey);
    auto tokens = [&](const Candidate& c) {
      if (inflight == nullptr || c.index >= inflight->by_candidate.size()) return 0.0;
      return static_cast<double>(inflight->by_candidate[c.index].tokens);
    };
    double best_sticky = std::numeric_limits<double>::infinity();
    double best_other = std::numeric_limits<double>::infinity();
    for (const auto& c : candidates) {
      const bool is_sticky = ratio(c) >= params_.affinity_threshold;
      double& best = is_sticky ? best_sticky : best_other;
      best = std::min(best, tokens(c));
    }
    const double extra_tokens = best_sticky - best_other;
    if (params_.max_ttft_penalty_ms > 0) {
      const double extra_ms = extra_tokens / params_.peak_prefill_throughput * 1000.0;
      if (extra_ms > static_cast<double>(params_.max_ttft_penalty_ms)) return;
    }
    if (params_.max_tokens_in_flight_penalty > 0 &&
        extra_tokens > static_cast<double>(params_.max_tokens_in_flight_penalty)) {
      return;
    }
  }
  candidates = std::move(sticky);
}

Result<std::shared_ptr<Plugin>> create_prefix_cache_affinity_filter(const PluginArgs& args) {
  return make_plugin<PrefixCacheAffinityFilter, PrefixCacheAffinityParams>(args);
}

}  // namespace llmd::sched::plugins
