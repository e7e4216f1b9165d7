#include "router/epp_metrics.h"

#include <cmath>

#include "http/server.h"
#include "log/log.h"
#include "metrics/text_format.h"
#include "sched/data.h"
#include "sched/plugins/approx-prefix-cache-producer/approx_prefix_cache_producer.h"
#include "sched/plugins/inflight-load-producer/inflight_load_producer.h"

namespace llmd::router {

namespace {

// llm-d's request latency buckets: 5 ms … 1 h.
const std::vector<double> kRequestBuckets = {
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2,   3,   4,    5,    6,    8,   10,
    15,    20,    30,   45,  60,  120, 180, 240, 300, 360,  480, 600, 900, 1200, 1800, 2700, 3600};
// Scheduler and plugin timing buckets: 0.1 ms … 100 ms.
const std::vector<double> kSchedulerBuckets = {0.0001, 0.0002, 0.0005, 0.001, 0.002,
                                               0.005,  0.01,   0.02,   0.05,  0.1};
const std::vector<double> kRatioBuckets = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
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
  auto add_series = [&](std::string_view ep, const sched::Plugin& p) {
    const auto& tn = p.typed_name();
    plugin_series_.push_back(
        PluginSeries{std::string(ep), tn.name, &plugin_duration_->with({ep, tn.type, tn.name})});
  };
  for (const auto& p : plan.plugins) {
    if (dynamic_cast<const sched::DataProducer*>(p.get()) != nullptr) add_series("ProducePlugin", *p);
    if (dynamic_cast<const sched::Filter*>(p.get()) != nullptr) add_series("Filter", *p);
    if (dynamic_cast<const sched::Scorer*>(p.get()) != nullptr) add_series("Scorer", *p);
    if (dynamic_cast<const sched::Picker*>(p.get()) != nullptr) add_series("Picker", *p);
    if (dynamic_cast<const sched::ProfileHandler*>(p.get()) != nullptr) add_series("ProfileHandler", *p);
    if (dynamic_cast<const sched::PreRequest*>(p.get()) != nullptr) add_series("PreRequest", *p);

    if (const auto* prefix = dynamic_cast<const sched::plugins::ApproxPrefixCacheProducer*>(p.get())) {
      const auto& tn = prefix->typed_name();
      if (hit_ratio_family_ == nullptr) {
        hit_ratio_family_ = must(
            registry_.histogram_family("llm_d_epp_prefix_indexer_hit_ratio",
                                       "Fraction of a request's prefix blocks cached on the chosen endpoint.",
                                       {"plugin_name", "plugin_type"}, kRatioBuckets));
      }
      prefix_series_.push_back(
          PrefixSeries{sched::prefix_match_key(tn.name), &hit_ratio_family_->with({tn.name, tn.type})});
      auto* size = must(registry_.gauge_family("llm_d_epp_prefix_indexer_size",
                                               "Block hashes held by the prefix index.",
                                               {"plugin_name", "plugin_type"}));
      must(size->with_callback({tn.name, tn.type},
                               [prefix] { return static_cast<double>(prefix->index().stats().entries); }));
    }
    if (const auto* inflight = dynamic_cast<const sched::plugins::InflightLoadProducer*>(p.get())) {
      inflight_.push_back(InflightSource{inflight->typed_name().name, [inflight](uint64_t uid) {
                                           const sched::InflightLoad l = inflight->load_of(uid);
                                           return std::pair<int64_t, int64_t>{l.requests, l.tokens};
                                         }});
    }
  }
  for (const auto& prof : plan.profiles) profile_names_.push_back(prof.name);
  samples_ = std::make_unique<std::atomic<std::shared_ptr<const ScoreSample>>[]>(profile_names_.size());
  sample_due_ns_ = std::make_unique<std::atomic<int64_t>[]>(profile_names_.size());
  for (size_t i = 0; i < profile_names_.size(); ++i) sample_due_ns_[i].store(0);
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
    const std::string_view labels[] = {model_label, target_label, kFairnessId, kPriority};
    slot->total = &request_total_->with(labels);
    slot->duration = &request_duration_->with(labels);
    slot->ttft = &request_ttft_->with(labels);
  }
  return *slot;
}

RequestSeries& EppMetrics::series(std::string_view model, std::string_view target_model) {
  const int w = http::current_worker();
  WorkerCache* cache =
      w >= 0 && static_cast<size_t>(w) < worker_caches_.size() ? &worker_caches_[w] : nullptr;
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
    const std::string_view labels[] = {s.model, s.target_model, kFairnessId, kPriority, to_string(e)};
    c = &request_errors_->with(labels);
    slot.store(c, std::memory_order_release);
  }
  c->inc();
}

void EppMetrics::observe_prefix_hit(const sched::SchedulingResult& result, const sched::Endpoint& /*chosen*/,
                                    uint32_t candidate_index) {
  if (!result.state) return;
  for (const auto& p : prefix_series_) {
    auto data = result.state->get<sched::PrefixMatchData>(p.match_key);
    if (!data || candidate_index >= data->by_candidate.size()) continue;
    const auto& info = data->by_candidate[candidate_index];
    if (info.total_blocks <= 0) continue;
    p.hit_ratio->observe(static_cast<double>(info.match_blocks) / static_cast<double>(info.total_blocks));
  }
}

void EppMetrics::on_plugin_duration(std::string_view extension_point, const sched::TypedName& plugin,
                                    Nanos d) {
  for (const auto& s : plugin_series_) {
    if (s.name == plugin.name && s.extension_point == extension_point) {
      s.histogram->observe(to_seconds(d));
      return;
    }
  }
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
  auto sample = std::make_shared<ScoreSample>();
  sample->time = Nanos(now);
  sample->scores.reserve(scored.size());
  for (const auto& s : scored) sample->scores.emplace_back(s.candidate.endpoint->id, s.score);
  samples_[i].store(std::move(sample), std::memory_order_release);
}

std::vector<std::pair<std::string, std::shared_ptr<const ScoreSample>>> EppMetrics::scores() const {
  std::vector<std::pair<std::string, std::shared_ptr<const ScoreSample>>> out;
  for (size_t i = 0; i < profile_names_.size(); ++i) {
    out.emplace_back(profile_names_[i], samples_[i].load(std::memory_order_acquire));
  }
  return out;
}

std::string EppMetrics::expose() const {
  std::string out = registry_.expose();
  if (inflight_.empty()) return out;
  // Per-endpoint gauges follow the endpoint set, so they are rendered here rather than registered.
  auto snap = store_.snapshot();
  struct Family {
    const char* name;
    const char* help;
    bool tokens;
  };
  for (const Family f :
       {Family{"llm_d_epp_inflight_requests", "Requests in flight per endpoint.", false},
        Family{"llm_d_epp_inflight_tokens", "Prompt tokens in flight per endpoint.", true}}) {
    out.append("# HELP ").append(f.name).append(" ").append(f.help).append("\n");
    out.append("# TYPE ").append(f.name).append(" gauge\n");
    for (const auto& src : inflight_) {
      for (const auto& e : snap->endpoints) {
        const auto [requests, tokens] = src.load(e->uid);
        const std::string_view id = e->id;
        const size_t slash = id.find('/');
        const std::string_view ns =
            slash == std::string_view::npos ? std::string_view{} : id.substr(0, slash);
        const std::string_view name = slash == std::string_view::npos ? id : id.substr(slash + 1);
        out.append(f.name).append("{endpoint_name=\"");
        metrics::append_escaped_label_value(out, name);
        out.append("\",namespace=\"");
        metrics::append_escaped_label_value(out, ns);
        out.append("\",producer_name=\"");
        metrics::append_escaped_label_value(out, src.producer_name);
        out.append("\",fairness_id=\"")
            .append(kFairnessId)
            .append("\",priority=\"")
            .append(kPriority)
            .append("\"} ");
        metrics::append_double(out, static_cast<double>(f.tokens ? tokens : requests));
        out.push_back('\n');
      }
    }
  }
  return out;
}

}  // namespace llmd::router
