#include "sim/server/replica_metrics.h"

#include "sim/server/replica.h"

namespace llmd::sim {

namespace {

// 1, 2, 5, 10, 20, 50, ... up to `max`: vLLM's buckets for token counts.
std::vector<double> one_two_five(double max) {
  std::vector<double> out;
  for (double m = 1;; m *= 10) {
    for (double f : {1.0, 2.0, 5.0}) {
      if (f * m > max) return out;
      out.push_back(f * m);
    }
  }
}

const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                          0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                          20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kItlBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                         0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kLatencyBuckets = {0.3,  0.5,   0.8,   1.0,   1.5,   2.0,    2.5,
                                             5.0,  10.0,  15.0,  20.0,  30.0,  40.0,   50.0,
                                             60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
const std::vector<double> kIterationBuckets = {1,   8,    16,   32,   64,   128,  256,
                                               512, 1024, 2048, 4096, 8192, 16384};

// Registers families labelled (engine, model_name) in that order, as a vLLM scrape shows them, and
// takes the replica's one series of each. After the first error it registers nothing more.
class Series {
 public:
  Series(metrics::Registry& registry, std::string_view model) : registry_(registry), model_(model) {}

  void gauge(const char* name, const char* help, metrics::Gauge*& out) {
    if (ok()) take(registry_.gauge_family(name, help, kLabels()), out);
  }
  void counter(const char* name, const char* help, metrics::Counter*& out) {
    if (ok()) take(registry_.counter_family(name, help, kLabels()), out);
  }
  void histogram(const char* name, const char* help, const std::vector<double>& bounds,
                 metrics::Histogram*& out) {
    if (ok()) take(registry_.histogram_family(name, help, kLabels(), bounds), out);
  }
  bool ok() const { return result_.has_value(); }
  const Result<void>& result() const { return result_; }

 private:
  static std::vector<std::string> kLabels() { return {"engine", "model_name"}; }
  template <class Family, class T>
  void take(Result<Family*> family, T*& out) {
    if (!family) {
      result_ = family.error();
      return;
    }
    out = &(*family)->with({"0", model_});
  }

  metrics::Registry& registry_;
  std::string_view model_;
  Result<void> result_;
};

}  // namespace

Result<void> ReplicaMetrics::init(const ReplicaConfig& cfg, const EngineConfig& engine) {
  model_ = cfg.model;
  if (auto r = add_engine_series(cfg, engine); !r) return r;
  if (auto r = add_request_histograms(engine); !r) return r;
  return add_cache_config_info(engine);
}

Result<void> ReplicaMetrics::add_engine_series(const ReplicaConfig& cfg, const EngineConfig& engine) {
  Series s(registry_, model_);
  s.gauge("vllm:num_requests_running", "Number of requests in model execution batches.", running_);
  s.gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", waiting_);
  s.gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", kv_usage_);
  if (!s.ok()) return s.result();
  if (cfg.lora_enabled) {
    auto f = registry_.gauge_family("vllm:lora_requests_info", "Running stats on lora requests.",
                                    {"max_lora", "waiting_lora_adapters", "running_lora_adapters"});
    if (!f) return f.error();
    lora_info_ = *f;
    max_lora_ = std::to_string(engine.max_loras);
  }
  s.counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.", preemptions_);
  s.counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", prompt_tokens_);
  s.counter("vllm:generation_tokens_total", "Number of generation tokens processed.", generation_tokens_);
  s.counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.",
            prefix_queries_);
  s.counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.",
            prefix_hits_);
  if (!s.ok()) return s.result();
  auto f = registry_.counter_family("vllm:request_success_total", "Count of successfully processed requests.",
                                    {"engine", "finished_reason", "model_name"});
  if (!f) return f.error();
  const char* reasons[4] = {"stop", "length", "abort", "repetition"};
  for (int i = 0; i < 4; ++i) success_[i] = &(*f)->with({"0", reasons[i], model_});
  return {};
}

Result<void> ReplicaMetrics::add_request_histograms(const EngineConfig& engine) {
  Series s(registry_, model_);
  s.histogram("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.",
              kIterationBuckets, iteration_);
  s.histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
              kTtftBuckets, ttft_);
  s.histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", kItlBuckets,
              itl_);
  s.histogram("vllm:time_per_output_token_seconds",
              "Histogram of time per output token in seconds.DEPRECATED: Use "
              "vllm:inter_token_latency_seconds instead.",
              kItlBuckets, tpot_);
  s.histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
              kLatencyBuckets, e2e_);
  s.histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.",
              kLatencyBuckets, queue_);
  s.histogram("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.",
              kLatencyBuckets, inference_);
  s.histogram("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.",
              kLatencyBuckets, prefill_);
  s.histogram("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.",
              kLatencyBuckets, decode_);
  const auto token_buckets = one_two_five(engine.max_model_len);
  s.histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", token_buckets,
              prompt_hist_);
  s.histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", token_buckets,
              generation_hist_);
  s.histogram("vllm:request_params_n", "Histogram of the n request parameter.", {1, 2, 5, 10, 20}, n_hist_);
  s.histogram("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.",
              token_buckets, max_tokens_hist_);
  return s.result();
}

Result<void> ReplicaMetrics::add_cache_config_info(const EngineConfig& engine) {
  auto info =
      registry_.gauge_family("vllm:cache_config_info", "Information of the LLMCache",
                             {"block_size", "cache_dtype", "enable_prefix_caching", "engine",
                              "gpu_memory_utilization", "num_cpu_blocks", "num_gpu_blocks",
                              "num_gpu_blocks_override", "prefix_caching_hash_algo", "sliding_window"});
  if (!info) return info.error();
  const std::string bs = std::to_string(engine.block_size);
  const std::string blocks = std::to_string(engine.num_gpu_blocks);
  (*info)->with({bs, "auto", "True", "0", "0.9", "None", blocks, "None", "sha256_cbor", "None"}).set(1.0);
  return {};
}

Result<void> ReplicaMetrics::add_sim_counters(SimCounterSources sources) {
  const std::pair<const char*, const char*> names[] = {
      {"llmd_sim_task_queue_full_total", "Requests refused because the engine's task queue was full."},
      {"llmd_sim_result_backpressure_total", "Times the engine waited for the HTTP worker to drain results."},
      {"llmd_sim_kv_events_dropped_total",
       "KV event batches dropped because the publisher's queue was full."},
      {"llmd_sim_pd_release_notify_failures_total",
       "P/D release notifications to a prefill replica that failed."}};
  std::function<double()> fns[] = {std::move(sources.task_queue_full), std::move(sources.result_backpressure),
                                   std::move(sources.kv_events_dropped),
                                   std::move(sources.release_notify_failures)};
  for (size_t i = 0; i < 4; ++i) {
    if (auto r = registry_.counter_callback(names[i].first, names[i].second, std::move(fns[i])); !r) return r;
  }
  return {};
}

void ReplicaMetrics::observe_step(const StepInfo& info) {
  iteration_->observe(static_cast<double>(info.num_tokens));
}

void ReplicaMetrics::observe_token(const TokenOutput& o, std::optional<uint32_t> max_tokens) {
  if (o.num_output_tokens == 1) {
    ttft_->observe(to_seconds(o.times.first_token - o.times.arrival));
  } else {
    const double itl = to_seconds(o.time - o.previous_token_time);
    itl_->observe(itl);
    tpot_->observe(itl);
  }
  if (!o.finished) return;
  const auto& t = o.times;
  success_[o.reason == FinishReason::kStop ? 0 : o.reason == FinishReason::kLength ? 1 : 2]->inc();
  e2e_->observe(to_seconds(t.finished - t.arrival));
  queue_->observe(to_seconds(t.scheduled - t.arrival));
  inference_->observe(to_seconds(t.finished - t.scheduled));
  prefill_->observe(to_seconds(t.first_token - t.scheduled));
  decode_->observe(to_seconds(t.finished - t.first_token));
  prompt_hist_->observe(o.prompt_tokens);
  generation_hist_->observe(o.num_output_tokens);
  n_hist_->observe(1);
  if (max_tokens) max_tokens_hist_->observe(*max_tokens);
}

void ReplicaMetrics::observe_abort() { success_[2]->inc(); }

void ReplicaMetrics::update(const EngineSnapshot& s, const Clock& clock) {
  running_->set(s.running);
  waiting_->set(s.waiting);
  kv_usage_->set(s.kv_cache_usage);
  const EngineCounters& c = s.counters;
  prefix_queries_->inc(c.prefix_cache_queries - last_counters_.prefix_cache_queries);
  prefix_hits_->inc(c.prefix_cache_hits - last_counters_.prefix_cache_hits);
  prompt_tokens_->inc(c.prompt_tokens - last_counters_.prompt_tokens);
  generation_tokens_->inc(c.generation_tokens - last_counters_.generation_tokens);
  preemptions_->inc(c.preemptions - last_counters_.preemptions);
  last_counters_ = c;
  set_lora(s.running_loras, s.waiting_loras, clock);
}

// vLLM sets the series for the current adapter sets to the current time; consumers take the
// series with the largest value.
void ReplicaMetrics::set_lora(const std::vector<std::string>& running,
                              const std::vector<std::string>& waiting, const Clock& clock) {
  if (lora_info_ == nullptr) return;
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
    return s;
  };
  const std::string w = join(waiting), r = join(running);
  const std::string key = w + "|" + r;
  if (lora_current_ == nullptr || key != lora_key_) {
    lora_current_ = &lora_info_->with({max_lora_, w, r});
    lora_key_ = key;
  }
  lora_current_->set_to_current_time(clock);
}

}  // namespace llmd::sim
