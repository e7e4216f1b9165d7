#include "sim/server/replica.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/client.h"
#include "sim/server/kv_publisher.h"
#include "sim/server/replica_internal.h"
#include "sim/server/replica_metrics.h"

namespace llmd::sim {

namespace asio = http::asio;

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
// Construction and lifecycle
// ---------------------------------------------------------------------------------------------

Replica::Replica(ReplicaConfig config, const Clock& clock, std::shared_ptr<const Codec> codec,
                 KvPublisher* publisher, const ReplicaDirectory* directory)
    : config_(std::move(config)),
      clock_(clock),
      codec_(std::move(codec)),
      publisher_(publisher),
      directory_(directory),
      tasks_(std::make_unique<TaskQueue>(config_.task_queue_capacity)),
      rng_(config_.seed ^ 0x5eed),
      id_rng_(config_.request_id_seed) {}

Replica::~Replica() { stop_engine_thread(); }

uint16_t Replica::port() const { return server_ ? server_->port() : config_.port; }

Result<void> Replica::start() {
  config_.engine.output_tokens = codec_->filler();
  sink_ = std::make_unique<Sink>(publisher_, static_cast<size_t>(config_.index));
  engine_ = std::make_unique<Engine>(config_.engine, config_.profile, clock_, sink_.get());
  for (const auto& [name, path] : config_.lora_modules) {
    if (auto r = engine_->load_lora(name); !r) return r.error();
    loras_[name] = path;
  }
  metrics_ = std::make_unique<ReplicaMetrics>();
  if (auto r = metrics_->init(config_, engine_->config()); !r) return r.error();
  auto count = [](const std::atomic<uint64_t>& n) {
    return [&n] { return static_cast<double>(n.load(std::memory_order_relaxed)); };
  };
  if (auto r = metrics_->add_sim_counters(
          {.task_queue_full = count(task_queue_full_),
           .result_backpressure = count(result_backpressure_),
           .kv_events_dropped =
               [this] { return publisher_ ? static_cast<double>(publisher_->stats().dropped) : 0.0; },
           .release_notify_failures = count(release_notify_failures_)});
      !r)
    return r.error();

  http::ServerOptions opts = config_.http;
  opts.seed = config_.request_id_seed;
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
  stop_engine_thread();
}

void Replica::stop_engine_thread() {
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
      wake_cv_.wait_for(lk, *deadline - clock_.now(), ready);
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
        std::this_thread::sleep_for(info.duration);
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
    if (engine_->abort(it->second)) metrics_->observe_abort();
    live_.erase(it->second);
    handle_of_.erase(it);
  } else if (auto* rel = std::get_if<ReleaseTask>(&task.v)) {
    engine_->release_held(rel->request_id);
  } else if (auto* c = std::get_if<ControlTask>(&task.v)) {
    out.push_back(apply_control(*c));
  }
}

Replica::Delivery Replica::apply_control(const ControlTask& task) {
  Result<void> r;
  switch (task.kind) {
    case ControlKind::kReset:
      if (!engine_->reset_prefix_cache()) {
        r = make_error(ErrorCode::kInvalidArgument,
                       "Failed to reset prefix cache because some blocks (e.g. of running requests) are not "
                       "freed yet.");
      }
      break;
    case ControlKind::kLoadLora:
      r = engine_->load_lora(task.name);
      break;
    case ControlKind::kUnloadLora:
      r = engine_->unload_lora(task.name);
      break;
  }
  Delivery d;
  d.sid = task.sid;
  d.kind = Delivery::Kind::kControl;
  d.ok = r.has_value();
  if (!r) {
    d.code = r.error().code;
    d.message = r.error().message;
  }
  return d;
}

void Replica::record(const StepInfo& info, const std::vector<TokenOutput>& outs,
                     std::vector<Delivery>& deliveries) {
  metrics_->observe_step(info);
  for (const auto& o : outs) {
    auto it = live_.find(o.handle);
    if (it == live_.end()) continue;
    metrics_->observe_token(o, it->second.max_tokens);
    Delivery d;
    d.sid = it->second.sid;
    d.kind = Delivery::Kind::kToken;
    d.has_token = o.token.has_value();
    d.token = o.token.value_or(0);
    d.usage = Usage{o.prompt_tokens, o.num_output_tokens, o.cached_tokens};
    if (o.finished) {
      d.finished = true;
      d.reason = o.reason;
      d.held_blocks = o.held_blocks;
      handle_of_.erase(it->second.sid);
      live_.erase(it);
    }
    deliveries.push_back(std::move(d));
  }
}

void Replica::update_gauges() { metrics_->update(engine_->snapshot(), clock_); }

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
// HTTP worker: the result channel
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

}  // namespace llmd::sim
