#pragma once
// A replica's /metrics: vLLM's engine metrics with the exact names, types, help texts, buckets and
// labels vLLM's Prometheus logger (vllm/v1/metrics/loggers.py) exposes, labelled engine="0" and
// model_name=<served name>, plus the simulator's own llmd_sim_* counters. Updated only from the
// engine thread; the registry renders them on the HTTP worker.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "metrics/registry.h"
#include "sim/engine/engine.h"

namespace llmd::sim {

struct ReplicaConfig;

// How often each of the simulator's bounds was hit, read at scrape time.
struct SimCounterSources {
  std::function<double()> task_queue_full;
  std::function<double()> result_backpressure;
  std::function<double()> kv_events_dropped;
  std::function<double()> release_notify_failures;
};

class ReplicaMetrics {
 public:
  // Registers every vLLM family. `engine`: the engine's resolved configuration.
  Result<void> init(const ReplicaConfig& cfg, const EngineConfig& engine);
  Result<void> add_sim_counters(SimCounterSources sources);

  const metrics::Registry& registry() const { return registry_; }

  // ---- engine thread ----
  void observe_step(const StepInfo& info);
  // One token of a live request; `max_tokens` is the request's max_tokens parameter.
  void observe_token(const TokenOutput& out, std::optional<uint32_t> max_tokens);
  void observe_abort();
  // Gauges from the snapshot; counters by what the engine's counters grew since the last call.
  void update(const EngineSnapshot& snapshot, const Clock& clock);

 private:
  Result<void> add_engine_series(const ReplicaConfig& cfg, const EngineConfig& engine);
  Result<void> add_request_histograms(const EngineConfig& engine);
  Result<void> add_cache_config_info(const EngineConfig& engine);
  void set_lora(const std::vector<std::string>& running, const std::vector<std::string>& waiting,
                const Clock& clock);

  metrics::Registry registry_;
  std::string model_;  // the model_name label
  metrics::Gauge* running_ = nullptr;
  metrics::Gauge* waiting_ = nullptr;
  metrics::Gauge* kv_usage_ = nullptr;
  metrics::Counter* prefix_queries_ = nullptr;
  metrics::Counter* prefix_hits_ = nullptr;
  metrics::Counter* prompt_tokens_ = nullptr;
  metrics::Counter* generation_tokens_ = nullptr;
  metrics::Counter* preemptions_ = nullptr;
  metrics::Counter* success_[4] = {};  // stop, length, abort, repetition
  metrics::Histogram* ttft_ = nullptr;
  metrics::Histogram* itl_ = nullptr;
  metrics::Histogram* tpot_ = nullptr;
  metrics::Histogram* e2e_ = nullptr;
  metrics::Histogram* queue_ = nullptr;
  metrics::Histogram* inference_ = nullptr;
  metrics::Histogram* prefill_ = nullptr;
  metrics::Histogram* decode_ = nullptr;
  metrics::Histogram* prompt_hist_ = nullptr;
  metrics::Histogram* generation_hist_ = nullptr;
  metrics::Histogram* max_tokens_hist_ = nullptr;
  metrics::Histogram* n_hist_ = nullptr;
  metrics::Histogram* iteration_ = nullptr;
  metrics::GaugeFamily* lora_info_ = nullptr;
  metrics::Gauge* lora_current_ = nullptr;
  std::string lora_key_;
  std::string max_lora_;
  EngineCounters last_counters_;
};

}  // namespace llmd::sim
