#pragma once
// inflight-load-producer: the scheduler's own count of requests and prompt tokens in flight per
// endpoint (llm-d's in-flight load data producer). Counts are taken at PreRequest and released by the
// response hooks: prompt tokens at the first streamed chunk (prefill is done) or at completion, requests at
// completion.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "sched/data.h"
#include "sched/endpoint_state.h"
#include "sched/metrics_source.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kInflightLoadProducerType = "inflight-load-producer";

struct InflightLoadParams {
  bool add_estimated_output_tokens = false;
  double output_ratio = 1.5;                // estimated output = prompt tokens × ratio
  int64_t max_estimated_output_tokens = 0;  // cap on that estimate; 0 = only the client's max_tokens
};
void decode(config::MapReader& m, InflightLoadParams& p);

struct InflightCounters {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> tokens{0};
};

class InflightLoadProducer final : public Plugin,
                                   public DataProducer,
                                   public PreRequest,
                                   public ResponseHooks,
                                   public MetricsSource {
 public:
  InflightLoadProducer(TypedName tn, InflightLoadParams params, const PluginArgs& = {})
      : Plugin(std::move(tn)), params_(params) {}

  std::vector<std::string> consumes() const override { return {std::string(kTokenizedPromptKey)}; }
  std::vector<std::string> produces() const override { return {std::string(kInflightLoadKey)}; }
  void produce(SchedulingContext& ctx) const override;
  void pre_request(const SchedulingContext& ctx, SchedulingResult& result) const override;
  void on_response_streaming(const LLMRequest& request, const SchedulingResult& result,
                             const ResponseChunk& chunk) const override;
  void on_response_complete(const LLMRequest& request, const SchedulingResult& result,
                            const ResponseCompletion& completion) const override;

  // Current counts for one endpoint.
  InflightLoad load_of(uint64_t uid) const;

  // MetricsSource: llm_d_epp_inflight_requests and llm_d_epp_inflight_tokens per endpoint.
  Result<void> register_metrics(metrics::Registry&) override { return {}; }
  void endpoint_gauges(const EndpointSnapshot& snapshot, EndpointGauges& out) const override;

 private:
  struct Record;
  std::string record_key() const;
  static void release_prompt(Record& r);

  InflightLoadParams params_;
  mutable EndpointStateMap<InflightCounters> counters_;
};

Result<std::shared_ptr<Plugin>> create_inflight_load_producer(const PluginArgs& args);

}  // namespace llmd::sched::plugins
