#include "epp/epp_metrics.h"

#include <cmath>

#include "log/log.h"
#include "metrics/text_format.h"

namespace llmd::epp {

namespace {

// llm-d's request latency buckets: 5 ms … 1 h.
const std::vector<double> kRequestBuckets = {
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2,   3,   4,    5,    6,    8,   10,
    15,    20,    30,   45,  60,  120, 180, 240, 300, 360,  480, 600, 900, 1200, 1800, 2700, 3600};
// Scheduler and plugin timing buckets: 0.1 ms … 100 ms.
const std::vector<double> kSchedulerBuckets = {0.0001, 0.0002, 0.0005, 0.001, 0.002,
                                               0.005,  0.01,   0.02,   0.05,  0.1};
// Worker caches stop growing past this many raw (model, target) pairs.
constexpr size_t kMaxCachedKeys = 2 * kMaxModelLabels;
// Score samples are taken at most this often per profile.
constexpr Nanos kScoreSamplePeriod = std::chrono::milliseconds(100);

const std::vector<std::string> kRequestLabels = {"model_name", "target_model_name", "fairness_id",
                                                 "priority"};

template <class T>
T* must(Result<T*> r) {
  // Registration happens once at start-up with fixed, valid names; a failure is a programming error.
  if (!r) {
    log::error("metric registration failed", log::kv("error", r.error().message));
    std::abort();
  }
  return *r;
}

void must(Result<void> r) {
  if (!r) {
    log::error("metric registration failed", log::kv("error", r.error().message));
    std::abort();
  }
}

struct PoolAverages {
  double kv = 0;
  double queue = 0;
  double running = 0;
  size_t ready = 0;
};

PoolAverages pool_averages(const sched::EndpointStore& store) {
  PoolAverages p;
  auto snap = store.snapshot();
  p.ready = snap->endpoints.size();
  if (p.ready == 0) return p;
  for (const auto& e : snap->endpoints) {
    p.kv += e->metrics->kv_cache_usage;
    p.queue += static_cast<double>(e->metrics->waiting_queue_size);
    p.running += static_cast<double>(e->metrics->running_requests_size);
  }
  const double n = static_cast<double>(p.ready);
  p.kv /= n;
  p.queue /= n;
  p.running /= n;
  return p;
}

}  // namespace

std::string_view to_string(RequestError e) {
  switch (e) {
    case RequestError::kBadRequest:
      return "BadRequest";
    case RequestError::kNotFound:
      return "NotFound";
    case RequestError::kResourceExhausted:
      return "ResourceExhausted";
    case RequestError::kServiceUnavailable:
      return "ServiceUnavailable";
    case RequestError::kModelServerError:
      return "ModelServerError";
    case RequestError::kInternal:
      return "Internal";
  }
  return "Internal";
}

EppMetrics::EppMetrics(const Clock& clock, std::string pool_name, const sched::EndpointStore& store,
                       unsigned workers)
    : clock_(clock), pool_name_(std::move(pool_name)), store_(store), worker_caches_(std::max(1u, workers)) {
  auto& r = registry_;
  request_total_ =
      must(r.counter_family("llm_d_epp_request_total", "Counter of inference requests.", kRequestLabels));
  auto error_labels = kRequestLabels;
  error_labels.push_back("error_code");
  request_errors_ = must(r.counter_family("llm_d_epp_request_error_total",
                                          "Counter of inference request errors.", error_labels));
  request_duration_ = must(r.histogram_family("llm_d_epp_request_duration_seconds",
                                              "Inference request latency in seconds, as the gateway sees it.",
                                              kRequestLabels, kRequestBuckets));
  request_ttft_ =
      must(r.histogram_family("llm_d_epp_request_ttft_seconds",
                              "Time to first streamed response byte in seconds, as the gateway sees it.",
                              kRequestLabels, kRequestBuckets));
  scheduler_e2e_ = must(r.histogram("llm_d_epp_scheduler_e2e_duration_seconds",
                                    "End-to-end scheduling latency in seconds.", kSchedulerBuckets));
  plugin_duration_ =
      must(r.histogram_family("llm_d_epp_plugin_duration_seconds", "Plugin latency in seconds.",
                              {"extension_point", "plugin_type", "plugin_name"}, kSchedulerBuckets));

  // Pool gauges under the current names and the deprecated inference_pool_* ones (dual-emitted as llm-d
  // does).
  struct PoolGauge {
    const char* name;
    const char* legacy;
    const char* help;
    double (*get)(const PoolAverages&);
  };
  const PoolGauge gauges[] = {
      {"llm_d_epp_average_kv_cache_utilization", "inference_pool_average_kv_cache_utilization",
       "Average KV cache utilization of the ready endpoints.", [](const PoolAverages& p) { return p.kv; }},
      {"llm_d_epp_average_queue_size", "inference_pool_average_queue_size",
       "Average number of waiting requests on the ready endpoints.",
       [](const PoolAverages& p) { return p.queue; }},
      {"llm_d_epp_average_running_requests", "inference_pool_average_running_requests",
       "Average number of running requests on the ready endpoints.",
       [](const PoolAverages& p) { return p.running; }},
      {"llm_d_epp_ready_endpoints", "inference_pool_ready_pods", "Number of ready endpoints.",
       [](const PoolAverages& p) { return static_cast<double>(p.ready); }},
  };
  for (const auto& g : gauges) {
    for (const char* name : {g.name, g.legacy}) {
      auto* fam = must(r.gauge_family(name, g.help, {"name"}));
      must(fam->with_callback({pool_name_}, [this, get = g.get] { return get(pool_averages(store_)); }));
    }
  }
  must(r.counter_callback("llm_d_epp_datalayer_poll_errors_total", "Failed endpoint metric scrapes.",
                          [this] { return poll_errors_ ? poll_errors_() : 0.0; }));
  must(r.counter_callback("llmd_router_busy_poll_seconds_total",
                          "Time the gateway workers spent polling for their next event (--busy-poll).",
                          [this] { return busy_poll_ ? busy_poll_() : 0.0; }));
}

EppMetrics::~EppMetrics() = default;

void EppMetrics::set_poll_error_source(std::function<double()> fn) { poll_errors_ = std::move(fn); }

void EppMetrics::set_busy_poll_source(std::function<double()> fn) { busy_poll_ = std::move(fn); }

void EppMetrics::bind_plan(const sched::SchedulerPlan& plan) {
  for (const auto& p : plan.plugins) {
    if (auto* source = dynamic_cast<sched::MetricsSource*>(p.get())) {
      must(source->register_metrics(registry_));
      sources_.push_back(source);
    }
  }
  for (const auto& prof : plan.profiles) profile_names_.push_back(prof.name);
  const size_t n = profile_names_.size();
  samples_ = std::make_unique<sched::SnapshotSlot<const ScoreSample>[]>(n);
  sample_due_ns_ = std::make_unique<std::atomic<int64_t>[]>(n);
  sampling_ = std::make_unique<std::atomic<bool>[]>(n);
  for (size_t i = 0; i < n; ++i) {
    sample_due_ns_[i].store(0);
    sampling_[i].store(false);
  }
}

void EppMetrics::bind_steps(std::span<const sched::TimedStep> steps) {
  step_histograms_.clear();
  for (const auto& st : steps) {
    const auto& tn = st.plugin->typed_name();
    step_histograms_.push_back(&plugin_duration_->with({st.extension_point, tn.type, tn.name}));
  }
}

RequestSeries& EppMetrics::resolve(std::string_view model, std::string_view target_model) {
  // Caller holds slow_mu_.
  std::string model_label(model);
  std::string target_label(target_model);
  for (std::string* label : {&model_label, &target_label}) {
    if (model_labels_.count(*label) != 0) continue;
    if (model_labels_.size() >= kMaxModelLabels) {
      *label = "other";
    } else {
      model_labels_.insert(*label);
    }
  }
  std::string key = model_label;
  key.push_back('\0');
  key.append(target_label);
  auto& slot = shared_series_[key];
  if (!slot) {
    slot = std::make_unique<RequestSeries>();
    slot->model = model_label;
    slot->target_model = target_label;
    const std::string_view labels[] = {model_label, target_label, sched::kDefaultFairnessId,
                                       sched::kDefaultPriority};
    slot->total = &request_total_->with(labels);
    slot->duration = &request_duration_->with(labels);
    slot->ttft = &request_ttft_->with(labels);
  }
  return *slot;
}

RequestSeries& EppMetrics::series(unsigned worker, std::string_view model, std::string_view target_model) {
  WorkerCache* cache = worker < worker_caches_.size() ? &worker_caches_[worker] : nullptr;
  if (cache == nullptr) {
    std::lock_guard lock(slow_mu_);
    return resolve(model, target_model);
  }
  cache->key.assign(model);
  cache->key.push_back('\0');
  cache->key.append(target_model);
  if (auto it = cache->by_key.find(cache->key); it != cache->by_key.end()) return *it->second;
  RequestSeries* s = nullptr;
  {
    std::lock_guard lock(slow_mu_);
    s = &resolve(model, target_model);
  }
  if (cache->by_key.size() < kMaxCachedKeys) cache->by_key.emplace(cache->key, s);
  return *s;
}

void EppMetrics::count_error(RequestSeries& s, RequestError e) {
  auto& slot = s.errors[static_cast<size_t>(e)];
  metrics::Counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    const std::string_view labels[] = {s.model, s.target_model, sched::kDefaultFairnessId,
                                       sched::kDefaultPriority, to_string(e)};
    c = &request_errors_->with(labels);
    slot.store(c, std::memory_order_release);
  }
  c->inc();
}

void EppMetrics::on_plugin_duration(uint32_t step, Nanos d) {
  if (step < step_histograms_.size()) step_histograms_[step]->observe(to_seconds(d));
}

void EppMetrics::on_schedule(Nanos d, bool /*ok*/) { scheduler_e2e_->observe(to_seconds(d)); }

void EppMetrics::on_scores(std::string_view profile, std::span<const sched::ScoredCandidate> scored) {
  size_t i = 0;
  while (i < profile_names_.size() && profile_names_[i] != profile) ++i;
  if (i == profile_names_.size()) return;
  const int64_t now = clock_.now().count();
  int64_t due = sample_due_ns_[i].load(std::memory_order_relaxed);
  if (now < due) return;
  if (!sample_due_ns_[i].compare_exchange_strong(due, now + kScoreSamplePeriod.count(),
                                                 std::memory_order_relaxed)) {
    return;  // another thread takes this sample
  }
  // SnapshotSlot takes one writer at a time; a sampler still busy with the last period's sample wins.
  if (sampling_[i].exchange(true, std::memory_order_acquire)) return;
  auto sample = std::make_shared<ScoreSample>();
  sample->time = Nanos(now);
  sample->scores.reserve(scored.size());
  for (const auto& s : scored) sample->scores.emplace_back(s.candidate.endpoint->id, s.score);
  samples_[i].store(std::move(sample));
  sampling_[i].store(false, std::memory_order_release);
}

std::vector<std::pair<std::string, std::shared_ptr<const ScoreSample>>> EppMetrics::scores() const {
  std::vector<std::pair<std::string, std::shared_ptr<const ScoreSample>>> out;
  for (size_t i = 0; i < profile_names_.size(); ++i) {
    out.emplace_back(profile_names_[i], samples_[i].load());
  }
  return out;
}

void EppMetrics::expose_to(std::string& out, std::span<const std::string> names) const {
  registry_.expose_to(out, names);
  if (sources_.empty()) return;
  // Series that follow the endpoint set are gathered at each scrape rather than registered.
  auto snap = store_.snapshot();
  sched::EndpointGauges gauges;
  for (const auto* source : sources_) source->endpoint_gauges(*snap, gauges);
  gauges.render(out, names);
}

std::string EppMetrics::expose() const {
  std::string out;
  expose_to(out, {});
  return out;
}

}  // namespace llmd::epp
