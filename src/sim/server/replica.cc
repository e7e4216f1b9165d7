#include "sim/server/replica.h"

#include <functional>
#include <random>
#include <variant>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "http/client.h"
#include "json/json.h"
#include "log/log.h"
#include "common/mpmc_queue.h"
#include "sim/server/kv_publisher.h"

namespace llmd::sim {

namespace asio = http::asio;
namespace bj = boost::json;
using http::Status;

// ---------------------------------------------------------------------------------------------
// Messages between the HTTP worker and the engine thread
// ---------------------------------------------------------------------------------------------

enum class ControlKind { kReset, kLoadLora, kUnloadLora };

struct AddTask {
  uint64_t sid = 0;
  RequestSpec spec;
  std::optional<uint32_t> max_tokens_param;
};
struct AbortTask {
  uint64_t sid = 0;
};
struct ReleaseTask {
  std::string request_id;
};
struct ControlTask {
  uint64_t sid = 0;
  ControlKind kind = ControlKind::kReset;
  std::string name;
};

struct Replica::Task {
  std::variant<std::monostate, AddTask, AbortTask, ReleaseTask, ControlTask> v;
};

struct Replica::TaskQueue {
  explicit TaskQueue(size_t capacity) : q(capacity) {}
  MpmcQueue<Task> q;
};

struct Replica::Delivery {
  enum class Kind : uint8_t { kAccepted, kRejected, kToken, kControl };
  uint64_t sid = 0;
  Kind kind = Kind::kToken;
  bool has_token = false;
  uint32_t token = 0;
  bool finished = false;
  FinishReason reason = FinishReason::kStop;
  Usage usage;
  std::vector<uint32_t> held_blocks;
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // kRejected / kControl
  bool ok = true;       // kControl
};

// A request's end of the result channel, owned by the HTTP worker thread.
struct Replica::Stream {
  explicit Stream(asio::any_io_executor ex) : wake(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;
  std::vector<Delivery> pending;
};

class Replica::Sink final : public EventSink {
 public:
  Sink(KvPublisher* publisher, size_t index) : publisher_(publisher), index_(index) {}
  void publish(kvevents::EventBatch batch) override {
    if (publisher_ != nullptr) publisher_->publish(index_, batch);
  }

 private:
  KvPublisher* publisher_;
  size_t index_;
};

// ---------------------------------------------------------------------------------------------
// vLLM metrics (kvcache.md §5.1): exact names, types, buckets and labels.
// ---------------------------------------------------------------------------------------------

namespace {

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

}  // namespace

struct Replica::Metrics {
  metrics::Registry registry;
  metrics::Gauge* running = nullptr;
  metrics::Gauge* waiting = nullptr;
  metrics::Gauge* kv_usage = nullptr;
  metrics::Counter* prefix_queries = nullptr;
  metrics::Counter* prefix_hits = nullptr;
  metrics::Counter* prompt_tokens = nullptr;
  metrics::Counter* generation_tokens = nullptr;
  metrics::Counter* preemptions = nullptr;
  metrics::Counter* success[4] = {};  // stop, length, abort, repetition
  metrics::Histogram* ttft = nullptr;
  metrics::Histogram* itl = nullptr;
  metrics::Histogram* tpot = nullptr;
  metrics::Histogram* e2e = nullptr;
  metrics::Histogram* queue = nullptr;
  metrics::Histogram* inference = nullptr;
  metrics::Histogram* prefill = nullptr;
  metrics::Histogram* decode = nullptr;
  metrics::Histogram* prompt_hist = nullptr;
  metrics::Histogram* generation_hist = nullptr;
  metrics::Histogram* max_tokens_hist = nullptr;
  metrics::Histogram* n_hist = nullptr;
  metrics::Histogram* iteration = nullptr;
  metrics::GaugeFamily* lora_info = nullptr;
  metrics::Gauge* lora_current = nullptr;
  std::string lora_key;
  std::string max_lora;

  Result<void> init(const ReplicaConfig& cfg, const EngineConfig& engine) {
    // Label order as a vLLM scrape shows it.
    const std::vector<std::string> labels = {"engine", "model_name"};
    const std::initializer_list<std::string_view> values = {"0", cfg.model};
    auto gauge = [&](const char* name, const char* help, metrics::Gauge*& out) -> Result<void> {
      auto f = registry.gauge_family(name, help, labels);
      if (!f) return f.error();
      out = &(*f)->with(values);
      return {};
    };
    auto counter = [&](const char* name, const char* help, metrics::Counter*& out) -> Result<void> {
      auto f = registry.counter_family(name, help, labels);
      if (!f) return f.error();
      out = &(*f)->with(values);
      return {};
    };
    auto histogram = [&](const char* name, const char* help, const std::vector<double>& b,
                         metrics::Histogram*& out) -> Result<void> {
      auto f = registry.histogram_family(name, help, labels, b);
      if (!f) return f.error();
      out = &(*f)->with(values);
      return {};
    };
    Result<void> r;
    if (!(r = gauge("vllm:num_requests_running", "Number of requests in model execution batches.", running)))
      return r;
    if (!(r = gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", waiting)))
      return r;
    if (!(r = gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", kv_usage)))
      return r;
    if (cfg.lora_enabled) {
      auto f = registry.gauge_family("vllm:lora_requests_info", "Running stats on lora requests.",
                                     {"max_lora", "waiting_lora_adapters", "running_lora_adapters"});
      if (!f) return f.error();
      lora_info = *f;
      max_lora = std::to_string(engine.max_loras);
    }
    if (!(r = counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.",
                      preemptions)))
      return r;
    if (!(r = counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.", prompt_tokens)))
      return r;
    if (!(r = counter("vllm:generation_tokens_total", "Number of generation tokens processed.",
                      generation_tokens)))
      return r;
    if (!(r = counter("vllm:prefix_cache_queries_total",
                      "Prefix cache queries, in terms of number of queried tokens.", prefix_queries)))
      return r;
    if (!(r = counter("vllm:prefix_cache_hits_total",
                      "Prefix cache hits, in terms of number of cached tokens.", prefix_hits)))
      return r;
    {
      auto f =
          registry.counter_family("vllm:request_success_total", "Count of successfully processed requests.",
                                  {"engine", "finished_reason", "model_name"});
      if (!f) return f.error();
      const char* reasons[4] = {"stop", "length", "abort", "repetition"};
      for (int i = 0; i < 4; ++i) success[i] = &(*f)->with({"0", reasons[i], cfg.model});
    }
    if (!(r = histogram("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.",
                        kIterationBuckets, iteration)))
      return r;
    if (!(r = histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.",
                        kTtftBuckets, ttft)))
      return r;
    if (!(r = histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.",
                        kItlBuckets, itl)))
      return r;
    if (!(r = histogram("vllm:time_per_output_token_seconds",
                        "Histogram of time per output token in seconds.DEPRECATED: Use "
                        "vllm:inter_token_latency_seconds instead.",
                        kItlBuckets, tpot)))
      return r;
    if (!(r = histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.",
                        kLatencyBuckets, e2e)))
      return r;
    if (!(r = histogram("vllm:request_queue_time_seconds",
                        "Histogram of time spent in WAITING phase for request.", kLatencyBuckets, queue)))
      return r;
    if (!(r = histogram("vllm:request_inference_time_seconds",
                        "Histogram of time spent in RUNNING phase for request.", kLatencyBuckets, inference)))
      return r;
    if (!(r = histogram("vllm:request_prefill_time_seconds",
                        "Histogram of time spent in PREFILL phase for request.", kLatencyBuckets, prefill)))
      return r;
    if (!(r = histogram("vllm:request_decode_time_seconds",
                        "Histogram of time spent in DECODE phase for request.", kLatencyBuckets, decode)))
      return r;
    const auto token_buckets = one_two_five(engine.max_model_len);
    if (!(r = histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", token_buckets,
                        prompt_hist)))
      return r;
    if (!(r = histogram("vllm:request_generation_tokens", "Number of generation tokens processed.",
                        token_buckets, generation_hist)))
      return r;
    if (!(r = histogram("vllm:request_params_n", "Histogram of the n request parameter.", {1, 2, 5, 10, 20},
                        n_hist)))
      return r;
    if (!(r = histogram("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.",
                        token_buckets, max_tokens_hist)))
      return r;
    auto info =
        registry.gauge_family("vllm:cache_config_info", "Information of the LLMCache",
                              {"block_size", "cache_dtype", "enable_prefix_caching", "engine",
                               "gpu_memory_utilization", "num_cpu_blocks", "num_gpu_blocks",
                               "num_gpu_blocks_override", "prefix_caching_hash_algo", "sliding_window"});
    if (!info) return info.error();
    const std::string bs = std::to_string(engine.block_size);
    const std::string blocks = std::to_string(engine.num_gpu_blocks);
    (*info)->with({bs, "auto", "True", "0", "0.9", "None", blocks, "None", "sha256_cbor", "None"}).set(1.0);
    return {};
  }

  // vLLM sets the series for the current adapter sets to the current time; consumers take the
  // series with the largest value.
  void set_lora(const std::vector<std::string>& running, const std::vector<std::string>& waiting,
                const Clock& clock) {
    if (lora_info == nullptr) return;
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
      return s;
    };
    const std::string w = join(waiting), r = join(running);
    const std::string key = w + "|" + r;
    if (lora_current == nullptr || key != lora_key) {
      lora_current = &lora_info->with({max_lora, w, r});
      lora_key = key;
    }
    lora_current->set_to_current_time(clock);
  }
};

// ---------------------------------------------------------------------------------------------
// Construction and lifecycle
// ---------------------------------------------------------------------------------------------

Replica::Replica(ReplicaConfig config, std::shared_ptr<const Codec> codec, KvPublisher* publisher,
                 const ReplicaDirectory* directory)
    : config_(std::move(config)),
      codec_(std::move(codec)),
      publisher_(publisher),
      directory_(directory),
      clock_(SystemClock::instance()),
      tasks_(std::make_unique<TaskQueue>(config_.task_queue_capacity)),
      rng_(config_.seed ^ 0x5eed),
      id_rng_(std::random_device{}()) {}

Replica::~Replica() {
  stop_.store(true);
  {
    std::lock_guard lk(wake_mu_);
    wake_cv_.notify_all();
  }
  pending_batches_.store(0);
  pending_batches_.notify_all();
  if (engine_thread_.joinable()) engine_thread_.join();
}

uint16_t Replica::port() const { return server_ ? server_->port() : config_.port; }

Result<void> Replica::start() {
  config_.engine.output_tokens = codec_->filler();
  sink_ = std::make_unique<Sink>(publisher_, static_cast<size_t>(config_.index));
  engine_ = std::make_unique<Engine>(config_.engine, config_.profile, clock_, sink_.get());
  for (const auto& [name, path] : config_.lora_modules) {
    if (auto r = engine_->load_lora(name); !r) return r.error();
    loras_[name] = path;
  }
  metrics_ = std::make_unique<Metrics>();
  if (auto r = metrics_->init(config_, engine_->config()); !r) return r.error();
  // The simulator's own bounds, each with the counter of how often it was hit.
  auto& reg = metrics_->registry;
  const std::pair<const char*, const char*> names[] = {
      {"llmd_sim_task_queue_full_total", "Requests refused because the engine's task queue was full."},
      {"llmd_sim_result_backpressure_total", "Times the engine waited for the HTTP worker to drain results."},
      {"llmd_sim_kv_events_dropped_total",
       "KV event batches dropped because the publisher's queue was full."},
      {"llmd_sim_pd_release_notify_failures_total",
       "P/D release notifications to a prefill replica that failed."}};
  std::function<double()> fns[] = {
      [this] { return static_cast<double>(task_queue_full_.load(std::memory_order_relaxed)); },
      [this] { return static_cast<double>(result_backpressure_.load(std::memory_order_relaxed)); },
      [this] { return publisher_ ? static_cast<double>(publisher_->stats().dropped) : 0.0; },
      [this] { return static_cast<double>(release_notify_failures_.load(std::memory_order_relaxed)); }};
  for (size_t i = 0; i < 4; ++i) {
    if (auto r = reg.counter_callback(names[i].first, names[i].second, std::move(fns[i])); !r)
      return r.error();
  }

  http::ServerOptions opts;
  opts.host = config_.host;
  opts.port = config_.port;
  opts.threads = 1;
  opts.server_header = "llmd-sim";
  server_ = std::make_unique<http::Server>(opts, make_router());
  // Everything a handler touches is set up before the port accepts its first connection.
  worker_ = server_->worker_executor(0);
  ready_at_ = clock_.now() + config_.startup_delay;
  update_gauges();
  engine_thread_ = std::thread([this] { engine_loop(); });
  if (auto r = server_->start(); !r) return r.error();
  return {};
}

void Replica::drain() {
  if (server_) server_->drain();
}

void Replica::wait() {
  if (server_) server_->wait();
  stop_.store(true);
  {
    std::lock_guard lk(wake_mu_);
    wake_cv_.notify_all();
  }
  pending_batches_.store(0);
  pending_batches_.notify_all();
  if (engine_thread_.joinable()) engine_thread_.join();
}

bool Replica::push_task(Task task) {
  if (!tasks_->q.try_push(task)) {
    task_queue_full_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // Pairs with the fence in wait_for_work: either the engine sees the task, or we see it sleeping.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_relaxed)) {
    std::lock_guard lk(wake_mu_);
    wake_cv_.notify_one();
  }
  return true;
}

bool Replica::submit_release(std::string request_id) {
  Task t;
  t.v = ReleaseTask{std::move(request_id)};
  return push_task(std::move(t));
}

// ---------------------------------------------------------------------------------------------
// Engine thread
// ---------------------------------------------------------------------------------------------

void Replica::wait_for_work(std::optional<Nanos> deadline) {
  sleeping_.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  auto ready = [this] { return tasks_->q.maybe_nonempty() || stop_.load(); };
  if (!ready()) {
    std::unique_lock lk(wake_mu_);
    if (deadline) {
      const auto tp = std::chrono::steady_clock::time_point(
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(*deadline));
      wake_cv_.wait_until(lk, tp, ready);
    } else {
      wake_cv_.wait(lk, ready);
    }
  }
  sleeping_.store(false, std::memory_order_relaxed);
}

void Replica::engine_loop() {
  std::vector<TokenOutput> outs;
  std::vector<TransferNotice> notices;
  std::vector<Delivery> deliveries;
  while (!stop_.load(std::memory_order_relaxed)) {
    while (auto t = tasks_->q.try_pop()) apply(*t, deliveries);
    if (auto t = engine_->next_timer(); t && *t <= clock_.now()) {
      notices.clear();
      engine_->run_timers(notices);
      handle_notices(notices);
    }
    bool stepped = false;
    if (engine_->has_work()) {
      const StepInfo info = engine_->begin_step();
      if (info.num_scheduled > 0) {
        // The step "runs" for its modelled duration; tasks arriving meanwhile join the next step.
        const Nanos end = clock_.now() + info.duration;
        std::this_thread::sleep_until(std::chrono::steady_clock::time_point(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(end)));
        outs.clear();
        engine_->end_step(outs);
        record(info, outs, deliveries);
        stepped = true;
      }
    }
    update_gauges();
    post_deliveries(deliveries);
    if (!stepped) wait_for_work(engine_->next_timer());
  }
}

void Replica::apply(Task& task, std::vector<Delivery>& out) {
  if (auto* add = std::get_if<AddTask>(&task.v)) {
    Delivery d;
    d.sid = add->sid;
    auto h = engine_->add_request(std::move(add->spec));
    if (!h) {
      d.kind = Delivery::Kind::kRejected;
      d.code = h.error().code;
      d.message = h.error().message;
    } else {
      d.kind = Delivery::Kind::kAccepted;
      live_[*h] = Live{add->sid, add->max_tokens_param};
      handle_of_[add->sid] = *h;
    }
    out.push_back(std::move(d));
  } else if (auto* ab = std::get_if<AbortTask>(&task.v)) {
    auto it = handle_of_.find(ab->sid);
    if (it == handle_of_.end()) return;
    if (engine_->abort(it->second)) metrics_->success[2]->inc();
    live_.erase(it->second);
    handle_of_.erase(it);
  } else if (auto* rel = std::get_if<ReleaseTask>(&task.v)) {
    engine_->release_held(rel->request_id);
  } else if (auto* c = std::get_if<ControlTask>(&task.v)) {
    Delivery d;
    d.sid = c->sid;
    d.kind = Delivery::Kind::kControl;
    Result<void> r;
    switch (c->kind) {
      case ControlKind::kReset:
        if (!engine_->reset_prefix_cache()) {
          r = make_error(
              ErrorCode::kInvalidArgument,
              "Failed to reset prefix cache because some blocks (e.g. of running requests) are not "
              "freed yet.");
        }
        break;
      case ControlKind::kLoadLora:
        r = engine_->load_lora(c->name);
        break;
      case ControlKind::kUnloadLora:
        r = engine_->unload_lora(c->name);
        break;
    }
    d.ok = r.has_value();
    if (!r) {
      d.code = r.error().code;
      d.message = r.error().message;
    }
    out.push_back(std::move(d));
  }
}

void Replica::record(const StepInfo& info, const std::vector<TokenOutput>& outs,
                     std::vector<Delivery>& deliveries) {
  Metrics& m = *metrics_;
  m.iteration->observe(static_cast<double>(info.num_tokens));
  for (const auto& o : outs) {
    auto it = live_.find(o.handle);
    if (it == live_.end()) continue;
    Delivery d;
    d.sid = it->second.sid;
    d.kind = Delivery::Kind::kToken;
    d.has_token = o.token.has_value();
    d.token = o.token.value_or(0);
    d.usage = Usage{o.prompt_tokens, o.num_output_tokens, o.cached_tokens};
    if (o.num_output_tokens == 1) {
      m.ttft->observe(to_seconds(o.times.first_token - o.times.arrival));
    } else {
      const double itl = to_seconds(o.time - o.previous_token_time);
      m.itl->observe(itl);
      m.tpot->observe(itl);
    }
    if (o.finished) {
      const auto& t = o.times;
      d.finished = true;
      d.reason = o.reason;
      d.held_blocks = o.held_blocks;
      m.success[o.reason == FinishReason::kStop ? 0 : o.reason == FinishReason::kLength ? 1 : 2]->inc();
      m.e2e->observe(to_seconds(t.finished - t.arrival));
      m.queue->observe(to_seconds(t.scheduled - t.arrival));
      m.inference->observe(to_seconds(t.finished - t.scheduled));
      m.prefill->observe(to_seconds(t.first_token - t.scheduled));
      m.decode->observe(to_seconds(t.finished - t.first_token));
      m.prompt_hist->observe(o.prompt_tokens);
      m.generation_hist->observe(o.num_output_tokens);
      m.n_hist->observe(1);
      if (it->second.max_tokens) m.max_tokens_hist->observe(*it->second.max_tokens);
      handle_of_.erase(it->second.sid);
      live_.erase(it);
    }
    deliveries.push_back(std::move(d));
  }
}

void Replica::update_gauges() {
  const EngineSnapshot s = engine_->snapshot();
  Metrics& m = *metrics_;
  m.running->set(s.running);
  m.waiting->set(s.waiting);
  m.kv_usage->set(s.kv_cache_usage);
  const EngineCounters& c = s.counters;
  m.prefix_queries->inc(c.prefix_cache_queries - last_counters_.prefix_cache_queries);
  m.prefix_hits->inc(c.prefix_cache_hits - last_counters_.prefix_cache_hits);
  m.prompt_tokens->inc(c.prompt_tokens - last_counters_.prompt_tokens);
  m.generation_tokens->inc(c.generation_tokens - last_counters_.generation_tokens);
  m.preemptions->inc(c.preemptions - last_counters_.preemptions);
  last_counters_ = c;
  m.set_lora(s.running_loras, s.waiting_loras, clock_);
}

void Replica::handle_notices(const std::vector<TransferNotice>& notices) {
  for (const auto& n : notices) {
    if (directory_ != nullptr) {
      if (Replica* peer = directory_->find(n.remote.engine_id)) {
        peer->submit_release(n.remote.request_id);
        continue;
      }
    }
    if (n.remote.host.empty() || n.remote.port == 0) continue;  // nowhere to tell: the prefill side times out
    asio::post(worker_, [this, n] { notify_remote_release(n); });
  }
}

void Replica::post_deliveries(std::vector<Delivery>& deliveries) {
  if (deliveries.empty()) return;
  int64_t pending = pending_batches_.load(std::memory_order_acquire);
  if (pending >= kMaxPendingResultBatches) {
    result_backpressure_.fetch_add(1, std::memory_order_relaxed);
    while (pending >= kMaxPendingResultBatches && !stop_.load()) {
      pending_batches_.wait(pending);
      pending = pending_batches_.load(std::memory_order_acquire);
    }
  }
  pending_batches_.fetch_add(1, std::memory_order_acq_rel);
  asio::post(worker_, [this, batch = std::move(deliveries)]() mutable {
    dispatch(batch);
    pending_batches_.fetch_sub(1, std::memory_order_acq_rel);
    pending_batches_.notify_one();
  });
  deliveries.clear();
}

// ---------------------------------------------------------------------------------------------
// HTTP worker
// ---------------------------------------------------------------------------------------------

void Replica::dispatch(std::vector<Delivery>& batch) {
  for (auto& d : batch) {
    auto it = streams_.find(d.sid);
    if (it == streams_.end()) continue;  // the client left
    it->second->pending.push_back(std::move(d));
    it->second->wake.cancel();
  }
}

uint64_t Replica::open_stream(std::shared_ptr<Stream>& st) {
  st = std::make_shared<Stream>(worker_);
  const uint64_t sid = next_sid_++;
  streams_.emplace(sid, st);
  return sid;
}

void Replica::close_stream(uint64_t sid) { streams_.erase(sid); }

http::Awaitable<bool> Replica::next_deliveries(Stream& st, http::Responder& res, std::vector<Delivery>& out) {
  out.clear();
  while (st.pending.empty()) {
    co_await st.wake.async_wait(asio::as_tuple(asio::use_awaitable));
    if (res.client_gone()) co_return false;
  }
  out.swap(st.pending);
  co_return true;
}

namespace {

Status status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return Status::bad_request;
    case ErrorCode::kNotFound:
      return Status::not_found;
    case ErrorCode::kResourceExhausted:
      return Status::too_many_requests;
    case ErrorCode::kUnavailable:
      return Status::service_unavailable;
    default:
      return Status::internal_server_error;
  }
}

http::Response error_for(const http::Request& req, Status status, std::string_view message) {
  return http::error_response(status, message, req.version(), req.keep_alive());
}

std::string random_hex(Rng& rng, int chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  uint64_t v = 0;
  for (int i = 0; i < chars; ++i) {
    if (i % 16 == 0) v = rng();
    s.push_back(kHex[v & 0xf]);
    v >>= 4;
  }
  return s;
}

}  // namespace

bool Replica::model_known(std::string_view model) const {
  return model == config_.model || loras_.contains(std::string(model));
}

std::optional<http::Response> Replica::injected_failure(const http::Request& req, std::string_view model) {
  int status = 0;
  auto hdr = req.find("X-Return-Error");
  if (hdr != req.end()) {
    status = std::atoi(std::string(hdr->value()).c_str());
    if (status < 400 || status > 599) status = 0;
  } else if (config_.failure_rate > 0 && !config_.failure_types.empty() &&
             rng_.uniform() * 100.0 < config_.failure_rate) {
    const FailureType t = config_.failure_types[rng_.below(config_.failure_types.size())];
    switch (t) {
      case FailureType::kRateLimit:
        return error_for(req, Status::too_many_requests, "Rate limit reached for " + std::string(model));
      case FailureType::kInvalidApiKey:
        return error_for(req, Status::unauthorized, "Incorrect API key provided.");
      case FailureType::kContextLength:
        return error_for(req, Status::bad_request,
                         "This model's maximum context length is " +
                             std::to_string(engine_->config().max_model_len) +
                             " tokens. However, your request exceeds it.");
      case FailureType::kServerError:
        return error_for(req, Status::service_unavailable, "The server is overloaded or not ready yet.");
      case FailureType::kInvalidRequest:
        return error_for(req, Status::bad_request, "Invalid request: injected failure.");
      case FailureType::kModelNotFound:
        return error_for(req, Status::not_found,
                         "The model `" + std::string(model) + "-nonexistent` does not exist.");
    }
  }
  if (status == 0) return std::nullopt;
  return error_for(req, static_cast<Status>(status),
                   "Injected error (X-Return-Error: " + std::to_string(status) + ")");
}

http::Awaitable<void> Replica::handle_completion(http::Request& req, http::Responder& res, ApiKind api) {
  if (clock_.now() < ready_at_) {
    co_await res.send(
        error_for(req, Status::service_unavailable, "The server is overloaded or not ready yet."));
    co_return;
  }
  auto parsed = parse_completion_request(req.body(), api);
  if (!parsed) {
    const Status st = parsed.error().code == ErrorCode::kResourceExhausted ? Status::payload_too_large
                                                                           : Status::bad_request;
    co_await res.send(error_for(req, st, parsed.error().message));
    co_return;
  }
  CompletionRequest& c = *parsed;
  if (auto failure = injected_failure(req, c.model)) {
    co_await res.send(std::move(*failure));
    co_return;
  }
  if (!model_known(c.model)) {
    co_await res.send(error_for(req, Status::not_found, "The model `" + c.model + "` does not exist."));
    co_return;
  }

  RequestSpec spec;
  if (c.prompt_tokens) {
    spec.prompt = std::move(*c.prompt_tokens);
  } else if (auto r = codec_->encode(c.prompt_text, api == ApiKind::kCompletions, spec.prompt); !r) {
    co_await res.send(error_for(req, Status::bad_request, r.error().message));
    co_return;
  }
  const uint32_t prompt_len = static_cast<uint32_t>(spec.prompt.size());
  auto rid = req.find("X-Request-Id");
  const std::string base_id = rid != req.end() ? std::string(rid->value()) : random_hex(id_rng_, 32);
  const std::string id = (api == ApiKind::kChatCompletions ? "chatcmpl-" : "cmpl-") + base_id;
  spec.request_id = id;
  spec.max_tokens = c.max_tokens;
  spec.ignore_eos = c.ignore_eos;
  spec.cache_salt = c.cache_salt;
  if (c.model != config_.model) spec.lora = c.model;
  spec.arrival = clock_.now();
  if (c.kv_transfer_params) {
    const KvTransferParams& kv = *c.kv_transfer_params;
    spec.do_remote_decode = kv.do_remote_decode;
    spec.do_remote_prefill = kv.do_remote_prefill && !kv.do_remote_decode;
    if (spec.do_remote_prefill) {
      spec.remote.engine_id = kv.remote_engine_id.value_or("");
      spec.remote.request_id = kv.remote_request_id.value_or("");
      spec.remote.host = kv.remote_host.value_or("");
      spec.remote.port = static_cast<uint16_t>(std::clamp<int64_t>(kv.remote_port.value_or(0), 0, 65535));
    }
  }
  const bool pd_prefill = spec.do_remote_decode;
  const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(clock_.wall_now()).count();

  std::shared_ptr<Stream> st;
  const uint64_t sid = open_stream(st);
  Task task;
  task.v = AddTask{sid, std::move(spec), c.max_tokens};
  if (!push_task(std::move(task))) {
    close_stream(sid);
    co_await res.send(error_for(req, Status::service_unavailable, "The engine's task queue is full."));
    co_return;
  }
  auto abort = [&] {
    Task t;
    t.v = AbortTask{sid};
    push_task(std::move(t));
    close_stream(sid);
  };

  std::vector<Delivery> batch;
  // The first delivery says whether the engine took the request.
  if (!co_await next_deliveries(*st, res, batch)) {
    abort();
    co_return;
  }
  size_t i = 0;
  if (batch[0].kind == Delivery::Kind::kRejected) {
    close_stream(sid);
    co_await res.send(error_for(req, status_for(batch[0].code), batch[0].message));
    co_return;
  }
  ++i;  // kAccepted

  std::string text;
  std::string piece;
  Usage usage{prompt_len, 0, 0};
  std::string finish_reason;
  std::vector<uint32_t> held;
  if (c.stream && api == ApiKind::kChatCompletions) {
    if (!co_await res.write_sse(render_role_chunk(id, created, c.model))) {
      abort();
      co_return;
    }
  }
  bool finished = false;
  while (!finished) {
    if (i >= batch.size()) {
      if (!co_await next_deliveries(*st, res, batch)) {
        abort();
        co_return;
      }
      i = 0;
    }
    // Tokens that piled up while the client was slow go out as one delta, as vLLM merges them.
    piece.clear();
    for (; i < batch.size(); ++i) {
      const Delivery& d = batch[i];
      if (d.kind != Delivery::Kind::kToken) continue;
      if (d.has_token) codec_->append_text(std::span(&d.token, 1), piece);
      usage = d.usage;
      if (d.finished) {
        finished = true;
        finish_reason = std::string(to_string(d.reason));
        held = d.held_blocks;
        ++i;
        break;
      }
    }
    if (c.stream) {
      if (piece.empty() && !finished) continue;
      const std::string chunk = render_delta_chunk(api, id, created, c.model, piece, finish_reason,
                                                   c.continuous_usage ? &usage : nullptr);
      if (!co_await res.write_sse(chunk)) {
        if (!finished) abort();
        close_stream(sid);
        co_return;
      }
    } else {
      text += piece;
    }
  }
  close_stream(sid);

  std::optional<KvTransferParams> kv_out;
  if (pd_prefill) {
    KvTransferParams p;
    p.do_remote_prefill = true;
    p.do_remote_decode = false;
    p.remote_block_ids.assign(held.begin(), held.end());
    p.remote_engine_id = engine_id();
    p.remote_request_id = id;
    p.remote_host = config_.advertise_host;
    p.remote_port = port();
    p.tp_size = config_.profile.tensor_parallel_size;
    kv_out = std::move(p);
  }
  if (c.stream) {
    if (c.include_usage && !co_await res.write_sse(render_usage_chunk(api, id, created, c.model, usage)))
      co_return;
    if (co_await res.write_sse("[DONE]")) co_await res.finish();
    co_return;
  }
  http::Response out = http::json_response(
      Status::ok, render_response(api, id, created, c.model, text, finish_reason, usage, kv_out),
      req.version(), req.keep_alive());
  co_await res.send(std::move(out));
}

http::Awaitable<void> Replica::handle_control(http::Request& req, http::Responder& res, int kind_int) {
  const auto kind = static_cast<ControlKind>(kind_int);
  std::string name, path;
  if (kind != ControlKind::kReset) {
    auto doc = json::parse(req.body());
    if (!doc) {
      co_await res.send(error_for(req, Status::bad_request, doc.error().message));
      co_return;
    }
    json::Extractor ex;
    json::ObjectReader body = ex.root(*doc);
    name = std::string(body.required_string("lora_name"));
    if (kind == ControlKind::kLoadLora) path = std::string(body.required_string("lora_path"));
    if (!ex.ok()) {
      co_await res.send(error_for(req, Status::bad_request, ex.error().message));
      co_return;
    }
    if (kind == ControlKind::kLoadLora && name == config_.model) {
      co_await res.send(
          error_for(req, Status::bad_request, "The lora adapter name must differ from the model."));
      co_return;
    }
  }
  std::shared_ptr<Stream> st;
  const uint64_t sid = open_stream(st);
  Task t;
  t.v = ControlTask{sid, kind, name};
  if (!push_task(std::move(t))) {
    close_stream(sid);
    co_await res.send(error_for(req, Status::service_unavailable, "The engine's task queue is full."));
    co_return;
  }
  std::vector<Delivery> batch;
  const bool got = co_await next_deliveries(*st, res, batch);
  close_stream(sid);
  if (!got) co_return;
  const Delivery& d = batch[0];
  if (!d.ok) {
    co_await res.send(error_for(req, status_for(d.code), d.message));
    co_return;
  }
  http::Response out{Status::ok, req.version()};
  out.keep_alive(req.keep_alive());
  if (kind == ControlKind::kLoadLora) {
    loras_[name] = path;
    out.set(http::Field::content_type, "text/plain; charset=utf-8");
    out.body() = "Success: LoRA adapter '" + name + "' added successfully.";
  } else if (kind == ControlKind::kUnloadLora) {
    loras_.erase(name);
    out.set(http::Field::content_type, "text/plain; charset=utf-8");
    out.body() = "Success: LoRA adapter '" + name + "' removed successfully.";
  }
  out.prepare_payload();
  co_await res.send(std::move(out));
}

void Replica::notify_remote_release(TransferNotice notice) {
  if (!client_) client_ = std::make_unique<http::Client>(worker_);
  asio::co_spawn(
      worker_,
      [this, notice = std::move(notice)]() -> http::Awaitable<void> {
        http::Request req{http::Verb::post, "/sim/kv_transfer_done", 11};
        bj::object body;
        body["remote_engine_id"] = notice.remote.engine_id;
        body["remote_request_id"] = notice.remote.request_id;
        req.body() = bj::serialize(body);
        req.set(http::Field::content_type, "application/json");
        auto r = co_await client_->request(http::Upstream{notice.remote.host, notice.remote.port}, req);
        if (!r || r->result() != Status::ok) {
          release_notify_failures_.fetch_add(1, std::memory_order_relaxed);
          log::warn("P/D release notification failed", log::kv("host", notice.remote.host),
                    log::kv("port", notice.remote.port), log::kv("request_id", notice.remote.request_id));
        }
      },
      asio::detached);
}

http::Router Replica::make_router() {
  http::Router router;
  using http::Verb;
  router.add(Verb::post, "/v1/completions", [this](http::Request& req, http::Responder& res) {
    return handle_completion(req, res, ApiKind::kCompletions);
  });
  router.add(Verb::post, "/v1/chat/completions", [this](http::Request& req, http::Responder& res) {
    return handle_completion(req, res, ApiKind::kChatCompletions);
  });
  auto health = [this](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
    http::Response out{clock_.now() < ready_at_ ? Status::service_unavailable : Status::ok, req.version()};
    out.keep_alive(req.keep_alive());
    out.prepare_payload();
    co_await res.send(std::move(out));
  };
  router.add(Verb::get, "/health", health);
  router.add(Verb::get, "/ping", health);
  router.add(Verb::post, "/ping", health);
  router.add(
      Verb::get, "/version", [this](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
        bj::object o;
        o["version"] = config_.version;
        co_await res.send(http::json_response(Status::ok, bj::serialize(o), req.version(), req.keep_alive()));
      });
  router.add(Verb::get, "/metrics",
             [this](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
               http::Response out{Status::ok, req.version()};
               out.set(http::Field::content_type, "text/plain; version=0.0.4; charset=utf-8");
               // As vLLM's prometheus_client does, `name[]` parameters limit the page to those samples.
               metrics_->registry.expose_to(out.body(), http::query_values(req.target(), "name[]"));
               out.keep_alive(req.keep_alive());
               out.prepare_payload();
               co_await res.send(std::move(out));
             });
  router.add(
      Verb::get, "/v1/models", [this](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
        const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(clock_.wall_now()).count();
        auto entry = [&](const std::string& id, const std::string& root, const bj::value& parent) {
          bj::object perm;
          perm["id"] = "modelperm-" + id;
          perm["object"] = "model_permission";
          perm["created"] = created;
          perm["allow_create_engine"] = false;
          perm["allow_sampling"] = true;
          perm["allow_logprobs"] = true;
          perm["allow_search_indices"] = false;
          perm["allow_view"] = true;
          perm["allow_fine_tuning"] = false;
          perm["organization"] = "*";
          perm["group"] = nullptr;
          perm["is_blocking"] = false;
          bj::object m;
          m["id"] = id;
          m["object"] = "model";
          m["created"] = created;
          m["owned_by"] = "vllm";
          m["root"] = root;
          m["parent"] = parent;
          m["max_model_len"] = engine_->config().max_model_len;
          m["permission"] = bj::array{perm};
          return m;
        };
        bj::array data;
        data.push_back(entry(config_.model, config_.model, nullptr));
        for (const auto& [name, path] : loras_) data.push_back(entry(name, path, bj::value(config_.model)));
        bj::object o;
        o["object"] = "list";
        o["data"] = std::move(data);
        co_await res.send(http::json_response(Status::ok, bj::serialize(o), req.version(), req.keep_alive()));
      });
  router.add(
      Verb::post, "/tokenize", [this](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
        auto doc = json::parse(req.body());
        if (!doc) {
          co_await res.send(error_for(req, Status::bad_request, doc.error().message));
          co_return;
        }
        json::Extractor ex;
        json::ObjectReader body = ex.root(*doc);
        std::string text;
        bool add_special = true;
        if (body.find("messages") != nullptr) {
          json::ArrayReader msgs = body.required_array("messages");
          std::vector<ChatMessage> conv;
          for (size_t i = 0; msgs && i < msgs.size(); ++i) {
            json::ObjectReader m = msgs.object(i);
            if (!m) break;
            ChatMessage cm;
            cm.role = std::string(m.required_string("role"));
            cm.content = std::string(m.optional_string("content").value_or(""));
            conv.push_back(std::move(cm));
          }
          text = render_chat(conv, body.optional_bool("add_generation_prompt").value_or(true));
          add_special = body.optional_bool("add_special_tokens").value_or(false);
        } else {
          text = std::string(body.required_string("prompt"));
          add_special = body.optional_bool("add_special_tokens").value_or(true);
        }
        const bool want_strs = body.optional_bool("return_token_strs").value_or(false);
        if (auto m = body.optional_string("model"); m && !model_known(*m)) {
          co_await res.send(
              error_for(req, Status::not_found, "The model `" + std::string(*m) + "` does not exist."));
          co_return;
        }
        if (!ex.ok()) {
          co_await res.send(error_for(req, Status::bad_request, ex.error().message));
          co_return;
        }
        std::vector<uint32_t> ids;
        if (auto r = codec_->encode(text, add_special, ids); !r) {
          co_await res.send(error_for(req, Status::bad_request, r.error().message));
          co_return;
        }
        bj::object o;
        o["count"] = ids.size();
        o["max_model_len"] = engine_->config().max_model_len;
        bj::array tokens;
        bj::array strs;
        for (uint32_t id : ids) {
          tokens.push_back(id);
          if (want_strs) {
            std::string s;
            codec_->append_text(std::span(&id, 1), s);
            strs.emplace_back(s);
          }
        }
        o["tokens"] = std::move(tokens);
        o["token_strs"] = want_strs ? bj::value(std::move(strs)) : bj::value(nullptr);
        co_await res.send(http::json_response(Status::ok, bj::serialize(o), req.version(), req.keep_alive()));
      });
  router.add(
      Verb::post, "/detokenize", [this](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
        auto doc = json::parse(req.body());
        if (!doc) {
          co_await res.send(error_for(req, Status::bad_request, doc.error().message));
          co_return;
        }
        json::Extractor ex;
        json::ObjectReader body = ex.root(*doc);
        std::vector<uint32_t> ids;
        if (json::ArrayReader arr = body.required_array("tokens")) {
          for (size_t i = 0; i < arr.size(); ++i) {
            auto v = arr.integer(i);
            if (!v) break;
            if (*v < 0 || *v > 0xffffffffll || !codec_->valid(static_cast<uint32_t>(*v))) {
              arr.fail(i, "token id out of vocabulary");
              break;
            }
            ids.push_back(static_cast<uint32_t>(*v));
          }
        }
        if (!ex.ok()) {
          co_await res.send(error_for(req, Status::bad_request, ex.error().message));
          co_return;
        }
        std::string text;
        codec_->append_text(ids, text);
        bj::object o;
        o["prompt"] = text;
        co_await res.send(http::json_response(Status::ok, bj::serialize(o), req.version(), req.keep_alive()));
      });
  router.add(Verb::post, "/reset_prefix_cache", [this](http::Request& req, http::Responder& res) {
    return handle_control(req, res, static_cast<int>(ControlKind::kReset));
  });
  router.add(Verb::post, "/v1/load_lora_adapter", [this](http::Request& req, http::Responder& res) {
    return handle_control(req, res, static_cast<int>(ControlKind::kLoadLora));
  });
  router.add(Verb::post, "/v1/unload_lora_adapter", [this](http::Request& req, http::Responder& res) {
    return handle_control(req, res, static_cast<int>(ControlKind::kUnloadLora));
  });
  // The simulator's NIXL side channel: a decode replica reports that it has pulled a request's KV.
  router.add(
      Verb::post, "/sim/kv_transfer_done",
      [this](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
        auto doc = json::parse(req.body());
        std::string rid;
        if (doc) {
          json::Extractor ex;
          json::ObjectReader body = ex.root(*doc);
          rid = std::string(body.required_string("remote_request_id"));
          if (!ex.ok()) rid.clear();
        }
        if (rid.empty()) {
          co_await res.send(error_for(req, Status::bad_request, "remote_request_id: field required"));
          co_return;
        }
        if (!submit_release(std::move(rid))) {
          co_await res.send(error_for(req, Status::service_unavailable, "The engine's task queue is full."));
          co_return;
        }
        http::Response out{Status::ok, req.version()};
        out.keep_alive(req.keep_alive());
        out.prepare_payload();
        co_await res.send(std::move(out));
      });
  return router;
}

}  // namespace llmd::sim
