#pragma once
// llm-d's EPP Prometheus metrics (llm-d-inference-scheduler pkg/metrics and GIE's epp metrics), shared
// by every data plane: request counters and latency histograms labelled {model_name,
// target_model_name, fairness_id, priority}, scheduler and plugin timings (as the SchedulerObserver),
// pool averages, and whatever the plugins publish themselves (sched::MetricsSource: prefix-indexer
// size and hit ratio, in-flight load). Request-path updates are lock-free: each worker caches its resolved
// series per model. It also keeps a sample of the latest per-endpoint scores for /debug/endpoints.

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
#include "sched/metrics_source.h"
#include "sched/scheduler.h"
#include "sched/snapshot_slot.h"

namespace llmd::epp {

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
  // `workers`: number of request threads, each with its own series cache; `store` feeds the pool gauges.
  EppMetrics(const Clock& clock, std::string pool_name, const sched::EndpointStore& store, unsigned workers);
  ~EppMetrics() override;

  // Registers the series of the plugins that publish their own (sched::MetricsSource) and the
  // profiles' score samples. Call once with the plan the Scheduler will own, before any request.
  void bind_plan(const sched::SchedulerPlan& plan);

  // The series for a request; allocation-free after a worker's first request for the model. `worker`:
  // the calling request thread's index (below `workers`); any other value takes a locked slow path.
  RequestSeries& series(unsigned worker, std::string_view model, std::string_view target_model);
  void count_error(RequestSeries& s, RequestError e);

  // A counter that the data layer's poll errors are read from at exposition time.
  void set_poll_error_source(std::function<double()> fn);
  // A counter of the seconds the gateway's workers spent busy-polling, read the same way.
  void set_busy_poll_source(std::function<double()> fn);

  // SchedulerObserver.
  void bind_steps(std::span<const sched::TimedStep> steps) override;
  void on_plugin_duration(uint32_t step, Nanos d) override;
  void on_schedule(Nanos d, bool ok) override;
  void on_scores(std::string_view profile, std::span<const sched::ScoredCandidate> scored) override;

  // Latest score samples by profile name.
  std::vector<std::pair<std::string, std::shared_ptr<const ScoreSample>>> scores() const;

  // The /metrics page: the registry plus the series that follow the endpoint set. `names`: only these
  // samples, as for `?name[]=` (empty: everything).
  void expose_to(std::string& out, std::span<const std::string> names) const;
  std::string expose() const;
  metrics::Registry& registry() { return registry_; }

 private:
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
  metrics::Histogram* scheduler_e2e_ = nullptr;

  std::vector<metrics::Histogram*> step_histograms_;  // by the scheduler's step number
  std::vector<const sched::MetricsSource*> sources_;
  std::vector<std::string> profile_names_;
  std::unique_ptr<sched::SnapshotSlot<const ScoreSample>[]> samples_;  // by profile
  std::unique_ptr<std::atomic<int64_t>[]> sample_due_ns_;              // by profile
  std::unique_ptr<std::atomic<bool>[]> sampling_;                      // by profile: a writer is busy
  std::function<double()> poll_errors_;
  std::function<double()> busy_poll_;

  std::vector<WorkerCache> worker_caches_;
  std::mutex slow_mu_;  // off-worker threads and model-name admission
  WorkerCache slow_cache_;
  std::unordered_set<std::string> model_labels_;
  std::unordered_map<std::string, std::unique_ptr<RequestSeries>> shared_series_;  // owns every series
};

}  // namespace llmd::epp
