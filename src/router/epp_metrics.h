#pragma once
// The router's Prometheus metrics with llm-d EPP names (scheduler.md §5.1): request counters and
// latency histograms labelled {model_name, target_model_name, fairness_id, priority}, scheduler and
// plugin timings (as the SchedulerObserver), pool averages, prefix-indexer size and hit ratio, and
// in-flight load. Request-path updates are lock-free: each worker caches its resolved series per model.
// It also keeps a sample of the latest per-endpoint scores for /debug/endpoints.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "metrics/registry.h"
#include "sched/endpoint.h"
#include "sched/scheduler.h"

namespace llmd::router {

// error_code label values (llm-d's internal error codes).
enum class RequestError {
  kBadRequest,
  kNotFound,
  kResourceExhausted,
  kServiceUnavailable,
  kModelServerError,
  kInternal
};
inline constexpr size_t kRequestErrorKinds = 6;
std::string_view to_string(RequestError e);

// Distinct model names kept as label values; later ones are reported as "other" (as llm-d caps them).
inline constexpr size_t kMaxModelLabels = 1000;
inline constexpr std::string_view kFairnessId = "default-flow";  // no flow control: one flow
inline constexpr std::string_view kPriority = "0";               // no InferenceObjectives: priority 0

// Series of one {model_name, target_model_name} pair.
struct RequestSeries {
  metrics::Counter* total = nullptr;
  metrics::Histogram* duration = nullptr;
  metrics::Histogram* ttft = nullptr;
  std::array<std::atomic<metrics::Counter*>, kRequestErrorKinds> errors{};
  std::string model;
  std::string target_model;
};

// Latest total scores of one profile, sampled from scheduling decisions.
struct ScoreSample {
  Nanos time{0};
  std::vector<std::pair<std::string, double>> scores;  // endpoint id → weighted total
};

class EppMetrics final : public sched::SchedulerObserver {
 public:
  // `workers`: number of request threads (http::current_worker() indexes); `store` feeds the pool gauges.
  EppMetrics(const Clock& clock, std::string pool_name, const sched::EndpointStore& store, unsigned workers);
  ~EppMetrics() override;

  // Registers the plugin-specific series (plugin durations, prefix indexer, in-flight producers).
  // Call once with the plan the Scheduler will own, before any request.
  void bind_plan(const sched::SchedulerPlan& plan);

  // The series for a request; allocation-free after a worker's first request for the model.
  RequestSeries& series(std::string_view model, std::string_view target_model);
  void count_error(RequestSeries& s, RequestError e);
  // The primary profile's prefix hit ratio of a decision (no-op without a prefix producer).
  void observe_prefix_hit(const sched::SchedulingResult& result, const sched::Endpoint& chosen,
                          uint32_t candidate_index);

  // A counter that the data layer's poll errors are read from at exposition time.
  void set_poll_error_source(std::function<double()> fn);
  // A counter of the seconds the gateway's workers spent busy-polling, read the same way.
  void set_busy_poll_source(std::function<double()> fn);

  // SchedulerObserver.
  void on_plugin_duration(std::string_view extension_point, const sched::TypedName& plugin, Nanos d) override;
  void on_schedule(Nanos d, bool ok) override;
  void on_scores(std::string_view profile, std::span<const sched::ScoredCandidate> scored) override;

  // Latest score samples by profile name.
  std::vector<std::pair<std::string, std::shared_ptr<const ScoreSample>>> scores() const;

  // The /metrics page: the registry plus the per-endpoint in-flight gauges.
  std::string expose() const;
  metrics::Registry& registry() { return registry_; }

 private:
  struct PluginSeries {
    std::string extension_point;
    std::string name;
    metrics::Histogram* histogram = nullptr;
  };
  struct PrefixSeries {
    std::string match_key;  // CycleState key of the producer's PrefixMatchData
    metrics::Histogram* hit_ratio = nullptr;
  };
  struct InflightSource {
    std::string producer_name;
    std::function<std::pair<int64_t, int64_t>(uint64_t uid)> load;  // requests, tokens
  };
  // Raw (model, target) → series; bounded so that arbitrary model names cannot grow it without limit.
  struct WorkerCache {
    std::unordered_map<std::string, RequestSeries*> by_key;
    std::string key;
  };

  RequestSeries& resolve(std::string_view model, std::string_view target_model);

  const Clock& clock_;
  const std::string pool_name_;
  const sched::EndpointStore& store_;
  metrics::Registry registry_;
  metrics::CounterFamily* request_total_ = nullptr;
  metrics::CounterFamily* request_errors_ = nullptr;
  metrics::HistogramFamily* request_duration_ = nullptr;
  metrics::HistogramFamily* request_ttft_ = nullptr;
  metrics::HistogramFamily* plugin_duration_ = nullptr;
  metrics::HistogramFamily* hit_ratio_family_ = nullptr;
  metrics::Histogram* scheduler_e2e_ = nullptr;

  std::vector<PluginSeries> plugin_series_;
  std::vector<PrefixSeries> prefix_series_;
  std::vector<InflightSource> inflight_;
  std::vector<std::string> profile_names_;
  std::unique_ptr<std::atomic<std::shared_ptr<const ScoreSample>>[]> samples_;  // by profile
  std::unique_ptr<std::atomic<int64_t>[]> sample_due_ns_;                       // by profile
  std::function<double()> poll_errors_;
  std::function<double()> busy_poll_;

  std::vector<WorkerCache> worker_caches_;
  std::mutex slow_mu_;  // off-worker threads and model-name admission
  WorkerCache slow_cache_;
  std::unordered_set<std::string> model_labels_;
  std::unordered_map<std::string, std::unique_ptr<RequestSeries>> shared_series_;  // owns every series
};

}  // namespace llmd::router
