#include "sched/plugins/no-hit-lru-scorer/no_hit_lru_scorer.h"

#include <algorithm>

#include "sched/plugins/prefix-cache-scorer/prefix_cache_scorer.h"

namespace llmd::sched::plugins {

void decode(config::MapReader& m, NoHitLruParams& p) {
  m.read("prefixPluginType", p.prefix_plugin_type);
  p.prefix_plugin_name_set = m.read("prefixPluginName", p.prefix_plugin_name);
  if (m.read("lruSize", p.lru_size) && p.lru_size <= 0) m.error("lruSize", "must be > 0");
}

NoHitLruScorer::NoHitLruScorer(TypedName tn, NoHitLruParams params, const PluginArgs&)
    : Plugin(std::move(tn)), params_(std::move(params)), key_(kDefaultPrefixMatchKey) {}

Result<void> NoHitLruScorer::bind(const PluginLookup& lookup) {
  const Plugin* p = lookup(params_.prefix_plugin_name);
  if (p == nullptr) {
    if (!params_.prefix_plugin_name_set) return {};  // no prefix scorer configured: the default producer
    return make_error(ErrorCode::kConfig,
                      "prefixPluginName: no plugin named \"" + params_.prefix_plugin_name + "\"");
  }
  if (p->typed_name().type != params_.prefix_plugin_type) {
    return make_error(ErrorCode::kConfig, "prefixPluginType: plugin \"" + params_.prefix_plugin_name +
                                              "\" has type " + p->typed_name().type + ", not " +
                                              params_.prefix_plugin_type);
  }
  if (const auto* scorer = dynamic_cast<const PrefixCacheScorer*>(p)) {
    key_ = prefix_match_key(scorer->producer_name());
    return {};
  }
  if (dynamic_cast<const DataProducer*>(p) != nullptr) {
    key_ = prefix_match_key(p->typed_name().name);
    return {};
  }
  return make_error(ErrorCode::kConfig, "prefixPluginName: plugin \"" + params_.prefix_plugin_name +
                                            "\" provides no prefix match information");
}

bool NoHitLruScorer::cold(const SchedulingContext& ctx, std::span<const Candidate> candidates) const {
  auto data = ctx.state.get<PrefixMatchData>(key_);
  if (data == nullptr) return true;
  for (const auto& c : candidates) {
    if (c.index < data->by_candidate.size() && data->by_candidate[c.index].match_blocks > 0) return false;
  }
  return true;
}

void NoHitLruScorer::score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
                           std::span<double> out) const {
  const size_t n = candidates.size();
  if (!cold(ctx, candidates)) {
    std::fill(out.begin(), out.end(), 0.5);
    return;
  }
  if (n == 1) {
    out[0] = 1.0;
    return;
  }
  auto view = stamps_.view();
  std::vector<std::pair<uint64_t, size_t>> used;  // (stamp, position)
  std::vector<size_t> fresh;
  for (size_t i = 0; i < n; ++i) {
    const Stamp* s = EndpointStateMap<Stamp>::find_in(*view, candidates[i].endpoint->uid);
    const uint64_t last = s != nullptr ? s->last.load(std::memory_order_relaxed) : 0;
    if (last == 0)
      fresh.push_back(i);
    else
      used.emplace_back(last, i);
  }
  std::sort(used.begin(), used.end());  // least recently used first
  const auto cap = static_cast<size_t>(params_.lru_size);
  if (used.size() > cap) {
    // Beyond the LRU's size the oldest are forgotten, i.e. count as never used.
    const size_t forget = used.size() - cap;
    for (size_t k = 0; k < forget; ++k) fresh.push_back(used[k].second);
    used.erase(used.begin(), used.begin() + static_cast<std::ptrdiff_t>(forget));
    std::sort(fresh.begin(), fresh.end());
  }
  size_t pos = 0;
  const double denom = static_cast<double>(n - 1);
  for (size_t i : fresh) out[i] = 1.0 - static_cast<double>(pos++) / denom;
  for (const auto& [stamp, i] : used) out[i] = 1.0 - static_cast<double>(pos++) / denom;
}

void NoHitLruScorer::pre_request(const SchedulingContext& ctx, SchedulingResult& result) const {
  if (!cold(ctx, ctx.candidates)) return;
  auto touch = [&](const Endpoint* e) {
    if (e != nullptr)
      stamps_.get_or_create(e->uid)->last.store(seq_.fetch_add(1) + 1, std::memory_order_relaxed);
  };
  const Endpoint* primary = result.primary_endpoint();
  touch(primary);
  if (const ProfileRun* prefill = result.find("prefill");
      prefill != nullptr && prefill->ok && !prefill->targets.empty() &&
      prefill->targets.front().endpoint.get() != primary) {
    touch(prefill->targets.front().endpoint.get());
  }
  if (stamps_.size() > ctx.snapshot.endpoints.size() + 16) stamps_.retain_only(ctx.snapshot);
}

Result<std::shared_ptr<Plugin>> create_no_hit_lru_scorer(const PluginArgs& args) {
  return make_plugin<NoHitLruScorer, NoHitLruParams>(args);
}

}  // namespace llmd::sched::plugins
