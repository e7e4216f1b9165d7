#include "sched/plugins/inflight-load-producer/inflight_load_producer.h"

#include <algorithm>
#include <cmath>

namespace llmd::sched::plugins {

// What pre_request added, so the hooks release exactly that, once.
struct InflightLoadProducer::Record {
  struct Charge {
    std::shared_ptr<InflightCounters> counters;
    int64_t prompt_tokens = 0;
    int64_t output_tokens = 0;
  };
  std::vector<Charge> charges;
  std::atomic<bool> prompt_released{false};
  std::atomic<bool> completed{false};
};

void decode(config::MapReader& m, InflightLoadParams& p) {
  m.read("addEstimatedOutputTokens", p.add_estimated_output_tokens);
  if (m.read("outputRatio", p.output_ratio) && !(p.output_ratio > 0)) m.error("outputRatio", "must be > 0");
  if (m.read("maxEstimatedOutputTokens", p.max_estimated_output_tokens) &&
      p.max_estimated_output_tokens < 0) {
    m.error("maxEstimatedOutputTokens", "must be >= 0");
  }
}

std::string InflightLoadProducer::record_key() const { return "inflight-record/" + typed_name().name; }

InflightLoad InflightLoadProducer::load_of(uint64_t uid) const {
  auto c = counters_.find(uid);
  if (c == nullptr) return {};
  return InflightLoad{c->requests.load(std::memory_order_relaxed), c->tokens.load(std::memory_order_relaxed)};
}

void InflightLoadProducer::endpoint_gauges(const EndpointSnapshot& snapshot, EndpointGauges& out) const {
  const LabelPair labels[] = {{"producer_name", typed_name().name},
                              {"fairness_id", kDefaultFairnessId},
                              {"priority", kDefaultPriority}};
  for (const auto& e : snapshot.endpoints) {
    out.add("llm_d_epp_inflight_requests", "Requests in flight per endpoint.", *e, labels,
            static_cast<double>(load_of(e->uid).requests));
  }
  for (const auto& e : snapshot.endpoints) {
    out.add("llm_d_epp_inflight_tokens", "Prompt tokens in flight per endpoint.", *e, labels,
            static_cast<double>(load_of(e->uid).tokens));
  }
}

void InflightLoadProducer::produce(SchedulingContext& ctx) const {
  auto data = std::make_shared<InflightData>();
  data->by_candidate.resize(ctx.candidates.size());
  auto view = counters_.view();
  for (const auto& c : ctx.candidates) {
    if (const InflightCounters* k = EndpointStateMap<InflightCounters>::find_in(*view, c.endpoint->uid)) {
      data->by_candidate[c.index] = InflightLoad{k->requests.load(std::memory_order_relaxed),
                                                 k->tokens.load(std::memory_order_relaxed)};
    }
  }
  ctx.state.put(std::string(kInflightLoadKey), std::move(data));
}

void InflightLoadProducer::pre_request(const SchedulingContext& ctx, SchedulingResult& result) const {
  const auto tokens = ctx.state.get<TokenizedPrompt>(kTokenizedPromptKey);
  const int64_t prompt =
      tokens != nullptr ? static_cast<int64_t>(tokens->size()) : ctx.request.estimated_tokens;
  const auto prefix = ctx.state.get<PrefixMatchData>(kDefaultPrefixMatchKey);

  int64_t output = 0;
  if (params_.add_estimated_output_tokens) {
    output = static_cast<int64_t>(std::llround(static_cast<double>(prompt) * params_.output_ratio));
    if (ctx.request.max_tokens >= 0) output = std::min(output, ctx.request.max_tokens);
    if (params_.max_estimated_output_tokens > 0)
      output = std::min(output, params_.max_estimated_output_tokens);
  }

  auto record = std::make_shared<Record>();
  auto charge = [&](const Endpoint* e) {
    if (e == nullptr) return;
    int64_t uncached = prompt;
    if (prefix != nullptr) {
      for (const auto& c : ctx.candidates) {
        if (c.endpoint == e && c.index < prefix->by_candidate.size()) {
          const auto& info = prefix->by_candidate[c.index];
          uncached = std::max<int64_t>(0, prompt - info.match_blocks * info.block_size_tokens);
          break;
        }
      }
    }
    auto counters = counters_.get_or_create(e->uid);
    counters->requests.fetch_add(1, std::memory_order_relaxed);
    counters->tokens.fetch_add(uncached + output, std::memory_order_relaxed);
    record->charges.push_back(Record::Charge{std::move(counters), uncached, output});
  };
  const Endpoint* primary = result.primary_endpoint();
  charge(primary);
  if (const ProfileRun* prefill = result.find("prefill");
      prefill != nullptr && prefill->ok && !prefill->targets.empty() &&
      prefill->targets.front().endpoint.get() != primary) {
    charge(prefill->targets.front().endpoint.get());
  }
  result.state->put(record_key(), std::move(record));
  // Endpoints come and go; drop counters of departed ones now and then (bounded by the pool size).
  if (counters_.size() > ctx.snapshot.endpoints.size() + 16) counters_.retain_only(ctx.snapshot);
}

void InflightLoadProducer::release_prompt(Record& r) {
  if (r.prompt_released.exchange(true)) return;
  for (auto& c : r.charges) c.counters->tokens.fetch_sub(c.prompt_tokens, std::memory_order_relaxed);
}

void InflightLoadProducer::on_response_streaming(const LLMRequest&, const SchedulingResult& result,
                                                 const ResponseChunk& chunk) const {
  if (!chunk.first || result.state == nullptr) return;
  if (auto r = result.state->get<Record>(record_key())) release_prompt(*r);
}

void InflightLoadProducer::on_response_complete(const LLMRequest&, const SchedulingResult& result,
                                                const ResponseCompletion&) const {
  if (result.state == nullptr) return;
  auto r = result.state->get<Record>(record_key());
  if (r == nullptr || r->completed.exchange(true)) return;
  release_prompt(*r);
  for (auto& c : r->charges) {
    c.counters->tokens.fetch_sub(c.output_tokens, std::memory_order_relaxed);
    c.counters->requests.fetch_sub(1, std::memory_order_relaxed);
  }
}

Result<std::shared_ptr<Plugin>> create_inflight_load_producer(const PluginArgs& args) {
  return make_plugin<InflightLoadProducer, InflightLoadParams>(args);
}

}  // namespace llmd::sched::plugins
