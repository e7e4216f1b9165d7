#include "router/gateway.h"

#include <algorithm>
#include <atomic>
#include <optional>

#include <fmt/format.h>

#include "epp/rejection.h"
#include "epp/request_fields.h"
#include "epp/usage.h"
#include "http/request_id.h"
#include "http/sse.h"
#include "log/log.h"

namespace llmd::router {

using epp::kDroppedReasonHeader;
using epp::kInternalHeaders;
using epp::kRequestIdHeader;
using epp::kServedHeader;
using epp::RequestError;
using epp::RequestFields;
using epp::RequestSeries;

namespace {

using http::Field;
using http::Status;

// Whether a client's header must not travel upstream: hop-by-hop headers, Host and Content-Length
// (the client library sets the upstream's), Expect (the body has been received in full) and the
// headers only the gateway may set.
bool must_strip(const http::Request::value_type& f) {
  switch (f.name()) {
    case Field::host:
    case Field::content_length:
    case Field::expect:
      return true;
    case Field::unknown:
      for (std::string_view h : kInternalHeaders) {
        if (http::beast::iequals(f.name_string(), h)) return true;
      }
      return false;
    default:
      return http::is_hop_by_hop(f.name());
  }
}

// What a client is told when no model server could be reached; which ones and why goes to the log.
constexpr std::string_view kUnreachable = "no model server could be reached";

// Header names are ASCII; std::tolower would consult the locale per character.
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

// An OpenAI-style error reply, built in its own coroutine frame: a Response awaited in a handler would
// be part of that handler's frame on every request, and asio recycles only frames under 1 KiB instead
// of calling malloc.
http::Awaitable<void> send_error(http::Responder& res, Status status, std::string_view message,
                                 std::string_view param, std::string_view reason,
                                 const std::string& request_id, unsigned version, bool keep_alive) {
  http::Response reply =
      http::json_response(status, http::openai_error_body(status, message, {}, param), version, keep_alive);
  if (!reason.empty()) reply.set(kDroppedReasonHeader, reason);
  if (!request_id.empty()) reply.set(kRequestIdHeader, request_id);
  co_await res.send(std::move(reply));
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char a, char b) { return ascii_lower(a) == b; });
  return it != haystack.end();
}

// The OpenAI list of the models the ready endpoints serve.
std::string models_list_body(const datalayer::ModelIndex& models) {
  std::string body = R"({"object":"list","data":[)";
  for (size_t i = 0; i < models.objects.size(); ++i) {
    if (i > 0) body.push_back(',');
    body.append(models.objects[i]);
  }
  body.append("]}");
  return body;
}

}  // namespace

// One scheduled attempt: owns the decision and reports its completion to the response hooks exactly
// once, also when the handler ends by an error, a disconnect or cancellation.
struct Gateway::Exchange {
  Exchange(const sched::Scheduler& s, const sched::LLMRequest& r, sched::SchedulingResult res)
      : scheduler(s), request(r), result(std::move(res)) {}
  ~Exchange() { scheduler.response_complete(request, result, completion); }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  const sched::Scheduler& scheduler;
  const sched::LLMRequest& request;
  sched::SchedulingResult result;
  sched::ResponseCompletion completion{sched::TerminationCause::kError, -1, -1};
};

struct Gateway::ForwardContext {
  const sched::Endpoint* endpoint = nullptr;
  RequestSeries* series = nullptr;  // null: not an inference request
  bool stream = true;
  bool sse = false;  // the relayed answer is an SSE stream
  Nanos start{0};
  unsigned version = 11;
  bool keep_alive = true;
  std::string request_id;
};

// What one request keeps across its awaits, leased from its worker's pool (StateLease) rather than
// held in coroutine frames: frames over ~1 KiB miss both asio's frame cache and malloc's per-thread
// cache, and glibc then consolidates its fast bins on each such allocation. Leased state also keeps
// the capacity of its strings and vectors from one request to the next.
struct Gateway::RequestState {
  sched::LLMRequest lr;
  RequestFields fields;
  ForwardContext ctx;
  std::vector<std::string> subset;  // used when restricted to the model's servers or after failed connects
  bool use_subset = false;
  std::vector<std::string> previous_headers;  // set by the last attempt's PreRequest plugins
  Error connect_error;
  std::optional<Exchange> exchange;  // declared after lr, which it refers to
  http::RelayResponse relay;         // a non-streamed answer
  // The error reply the request ends with (reply_error).
  Status error_status = Status::ok;
  std::string error_message;
  std::string_view error_reason;

  // Ready for the next request: ends the exchange (its completion hooks run now) and clears the rest,
  // keeping capacity.
  void reset() {
    exchange.reset();
    lr.clear();
    fields.stream = false;
    fields.error_param.clear();
    std::string id = std::move(ctx.request_id);
    id.clear();
    ctx = ForwardContext{};
    ctx.request_id = std::move(id);
    subset.clear();
    use_subset = false;
    previous_headers.clear();
    connect_error = Error{};
    error_status = Status::ok;
    error_message.clear();
    error_reason = {};
  }
};

// A worker's spare request states. Shared with the leases: a handler frame that the server's stop
// destroys may outlive the Worker (unbind() runs first).
struct Gateway::StatePool {
  // More requests in flight than this on one worker take fresh states that are freed after.
  static constexpr size_t kMaxSpare = 256;
  std::vector<std::unique_ptr<RequestState>> spare;
  std::atomic<uint64_t> fresh{0};  // states allocated because none was spare
};

class Gateway::StateLease {
 public:
  explicit StateLease(std::shared_ptr<StatePool> pool) : pool_(std::move(pool)) {
    if (!pool_->spare.empty()) {
      state_ = std::move(pool_->spare.back());
      pool_->spare.pop_back();
    } else {
      state_ = std::make_unique<RequestState>();
      pool_->fresh.fetch_add(1, std::memory_order_relaxed);
    }
  }
  StateLease(StateLease&&) noexcept = default;
  StateLease& operator=(StateLease&&) = delete;
  ~StateLease() {
    if (!state_) return;  // moved from
    state_->reset();
    if (pool_->spare.size() < StatePool::kMaxSpare) pool_->spare.push_back(std::move(state_));
  }
  RequestState& operator*() const { return *state_; }

 private:
  std::shared_ptr<StatePool> pool_;
  std::unique_ptr<RequestState> state_;
};

struct Gateway::Worker {
  Worker(unsigned i, http::asio::any_io_executor ex, const http::ClientOptions& o, uint64_t seed)
      : index(i), client(ex, o), rng(seed), request_ids(rng), states(std::make_shared<StatePool>()) {}
  unsigned index;
  http::Client client;
  json::Parser parser;
  Rng rng;
  http::RequestIdGenerator request_ids;         // draws from rng
  std::vector<std::string> connection_options;  // the current request's, reused
  std::shared_ptr<StatePool> states;
  std::atomic<uint64_t> connect_retries{0};
  std::atomic<uint64_t> upstream_failures{0};
  std::atomic<uint64_t> client_disconnects{0};
  std::atomic<uint64_t> stream_failures[2] = {};  // by StreamFailure
};

// Strips what must not travel upstream (one pass over the fields) and takes the client's x-request-id
// into `id`, or makes one and sets it on the request.
void Gateway::strip_and_take_request_id(Worker& w, http::Request& req, std::string& id) {
  // Headers the client's Connection fields name are hop-by-hop as well (RFC 9110 §7.6.1).
  http::connection_options(req, w.connection_options);
  bool found = false;
  for (auto it = req.begin(); it != req.end();) {
    const bool named =
        !w.connection_options.empty() && http::is_connection_option(it->name_string(), w.connection_options);
    if (named || must_strip(*it)) {
      it = req.erase(it);
      continue;
    }
    if (it->name() == Field::unknown && http::beast::iequals(it->name_string(), kRequestIdHeader)) {
      // Exactly one id travels on: the client's first, when it is usable.
      if (found || !http::usable_request_id(it->value())) {
        it = req.erase(it);
        continue;
      }
      id.assign(it->value());
      found = true;
    }
    ++it;
  }
  if (found) return;
  w.request_ids.next(id);
  req.set(kRequestIdHeader, id);
}

Gateway::Gateway(const sched::Scheduler& scheduler, const sched::EndpointStore& store,
                 const datalayer::DataLayer& data, epp::EppMetrics& metrics, const Clock& clock,
                 GatewayOptions options)
    : scheduler_(scheduler),
      store_(store),
      data_(data),
      metrics_(metrics),
      clock_(clock),
      options_(options) {}

Gateway::~Gateway() = default;

void Gateway::bind(http::Server& server) {
  http::ClientOptions co;
  co.connect_timeout = options_.connect_timeout;
  co.first_byte_timeout = options_.first_byte_timeout;
  co.idle_timeout = options_.idle_timeout;
  co.max_response_body_bytes = options_.max_response_bytes;
  co.max_idle_per_upstream = options_.max_idle_per_upstream;
  workers_.clear();
  for (unsigned i = 0; i < server.worker_count(); ++i) {
    workers_.push_back(std::make_unique<Worker>(i, server.worker_executor(i), co, options_.seed + i));
  }
}

void Gateway::unbind() { workers_.clear(); }

Gateway::Worker& Gateway::worker(const http::Responder& res) {
  // Handlers only run on the server's workers, and bind() made one Worker per worker.
  return *workers_[res.worker()];
}

GatewayStats Gateway::stats() const {
  GatewayStats s;
  for (const auto& w : workers_) {
    s.connect_retries += w->connect_retries.load(std::memory_order_relaxed);
    s.upstream_failures += w->upstream_failures.load(std::memory_order_relaxed);
    s.client_disconnects += w->client_disconnects.load(std::memory_order_relaxed);
    s.stream_upstream_errors += w->stream_failures[0].load(std::memory_order_relaxed);
    s.stream_upstream_timeouts += w->stream_failures[1].load(std::memory_order_relaxed);
    s.request_states += w->states->fresh.load(std::memory_order_relaxed);
  }
  return s;
}

void Gateway::add_routes(http::Router& router) {
  router.add(http::Verb::post, "/v1/completions", [this](http::Request& req, http::Responder& res) {
    return handle_inference(req, res, vllm::ApiKind::kCompletions);
  });
  router.add(http::Verb::post, "/v1/chat/completions", [this](http::Request& req, http::Responder& res) {
    return handle_inference(req, res, vllm::ApiKind::kChatCompletions);
  });
  router.add(http::Verb::get, "/v1/models",
             [this](http::Request& req, http::Responder& res) { return handle_models(req, res); });
  router.set_fallback(
      [this](http::Request& req, http::Responder& res) { return handle_passthrough(req, res); });
}

// Not a coroutine: the synchronous part (parsing, the model check) runs here and the coroutine it
// returns holds only what crosses an await.
http::Awaitable<void> Gateway::handle_inference(http::Request& req, http::Responder& res,
                                                vllm::ApiKind kind) {
  Worker& w = worker(res);
  StateLease lease(w.states);
  RequestState& s = *lease;
  ForwardContext& ctx = s.ctx;
  sched::LLMRequest& lr = s.lr;
  ctx.start = clock_.now();
  ctx.version = req.version();
  ctx.keep_alive = req.keep_alive();
  strip_and_take_request_id(w, req, ctx.request_id);

  lr.kind = kind;
  lr.request_id = ctx.request_id;
  if (auto r = epp::parse_request_fields(req.body(), w.parser, lr, s.fields); !r) {
    RequestSeries& series = metrics_.series(w.index, lr.model, lr.model);
    series.total->inc();
    metrics_.count_error(series, RequestError::kBadRequest);
    s.error_status =
        r.error().code == ErrorCode::kResourceExhausted ? Status::payload_too_large : Status::bad_request;
    s.error_message = std::move(r.error().message);
    return reply_error(res, std::move(lease));
  }
  // Names keep their case: lookups (sched::find_header) ignore it.
  for (const auto& f : req) lr.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  ctx.series = &metrics_.series(w.index, lr.model, lr.effective_model());
  ctx.series->total->inc();
  ctx.stream = s.fields.stream;

  auto models = data_.models();
  const std::vector<std::string>* restrict = models->restrict_to(lr.effective_model());
  if (restrict != nullptr&& restrict->empty()) {
    metrics_.count_error(*ctx.series, RequestError::kNotFound);
    s.error_status = Status::not_found;
    s.error_message = fmt::format("The model `{}` does not exist.", lr.effective_model());
    return reply_error(res, std::move(lease));
  }
  s.use_subset = restrict != nullptr;
  if (s.use_subset) s.subset.assign(restrict->begin(), restrict->end());
  return run_inference(w, req, res, std::move(lease));
}

http::Awaitable<void> Gateway::reply_error(http::Responder& res, StateLease lease) {
  const RequestState& s = *lease;
  co_await send_error(res, s.error_status, s.error_message, s.fields.error_param, s.error_reason,
                      s.ctx.request_id, s.ctx.version, s.ctx.keep_alive);
}

bool Gateway::schedule_attempt(Worker& w, http::Request& req, RequestState& s, int attempt) {
  ForwardContext& ctx = s.ctx;
  Result<sched::SchedulingResult> sr =
      s.use_subset ? scheduler_.schedule(s.lr, w.rng, s.subset) : scheduler_.schedule(s.lr, w.rng);
  if (!sr) {
    if (attempt > 0) {
      w.upstream_failures.fetch_add(1, std::memory_order_relaxed);
      metrics_.count_error(*ctx.series, RequestError::kModelServerError);
      s.error_status = Status::bad_gateway;
      s.error_message = kUnreachable;
      return false;
    }
    const epp::Rejection rej = epp::rejection_for(sr.error().code);
    s.error_status = static_cast<Status>(rej.status);
    s.error_reason = rej.reason;
    metrics_.count_error(*ctx.series, rej.error);
    s.error_message = std::move(sr.error().message);
    return false;
  }
  Exchange& ex = s.exchange.emplace(scheduler_, s.lr, std::move(*sr));
  ctx.endpoint = ex.result.primary_endpoint();
  if (ctx.endpoint == nullptr) {
    metrics_.count_error(*ctx.series, RequestError::kInternal);
    s.error_status = Status::internal_server_error;
    s.error_message = "scheduling produced no target endpoint";
    return false;
  }
  for (const auto& name : s.previous_headers) req.erase(name);
  s.previous_headers.clear();
  for (const auto& [name, value] : ex.result.request_headers) {
    req.set(name, value);
    s.previous_headers.push_back(name);
  }
  return true;
}

bool Gateway::after_connect_failure(Worker& w, RequestState& s, int attempt) {
  // The failed attempt's completion hooks run before the next decision.
  s.exchange.reset();
  if (attempt + 1 >= options_.max_attempts) {
    w.upstream_failures.fetch_add(1, std::memory_order_relaxed);
    metrics_.count_error(*s.ctx.series, RequestError::kModelServerError);
    s.error_status = Status::bad_gateway;
    s.error_message = kUnreachable;
    return false;
  }
  // Nothing reached the client: try another endpoint, without the ones that failed.
  w.connect_retries.fetch_add(1, std::memory_order_relaxed);
  if (!s.use_subset) {
    auto snap = store_.snapshot();
    for (const auto& e : snap->endpoints) s.subset.push_back(e->host_port);
    s.use_subset = true;
  }
  std::erase(s.subset, s.ctx.endpoint->host_port);
  return true;
}

http::Awaitable<void> Gateway::run_inference(Worker& w, http::Request& req, http::Responder& res,
                                             StateLease lease) {
  RequestState& s = *lease;
  for (int attempt = 0;; ++attempt) {
    if (!schedule_attempt(w, req, s, attempt)) break;
    const Forwarded f = co_await forward(w, req, res, s);
    if (f == Forwarded::kDone) co_return;
    if (!after_connect_failure(w, s, attempt)) break;
  }
  co_await send_error(res, s.error_status, s.error_message, {}, s.error_reason, s.ctx.request_id,
                      s.ctx.version, s.ctx.keep_alive);
}

http::Awaitable<void> Gateway::handle_models(http::Request& req, http::Responder& res) {
  auto models = data_.models();
  if (models->ready_endpoints == 0) {
    co_await send_error(res, Status::service_unavailable, "no endpoints available", {},
                        "rejected-no-endpoints", {}, req.version(), req.keep_alive());
    co_return;
  }
  if (!models->complete && models->servers.empty()) {
    // Nobody has reported a list yet: let an endpoint answer.
    co_await handle_passthrough(req, res);
    co_return;
  }
  co_await res.send(
      http::json_response(Status::ok, models_list_body(*models), req.version(), req.keep_alive()));
}

http::Awaitable<void> Gateway::handle_passthrough(http::Request& req, http::Responder& res) {
  Worker& w = worker(res);
  StateLease lease(w.states);
  RequestState& s = *lease;
  ForwardContext& ctx = s.ctx;
  ctx.start = clock_.now();
  ctx.version = req.version();
  ctx.keep_alive = req.keep_alive();
  ctx.stream = true;
  strip_and_take_request_id(w, req, ctx.request_id);
  auto snap = store_.snapshot();
  std::vector<const sched::Endpoint*> candidates;
  candidates.reserve(snap->endpoints.size());
  for (const auto& e : snap->endpoints) candidates.push_back(e.get());
  for (int attempt = 0; attempt < options_.max_attempts && !candidates.empty(); ++attempt) {
    const size_t i = w.rng.below(candidates.size());
    ctx.endpoint = candidates[i];
    const Forwarded f = co_await forward(w, req, res, s);
    if (f == Forwarded::kDone) co_return;
    w.connect_retries.fetch_add(1, std::memory_order_relaxed);
    candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(i));
  }
  if (s.connect_error.message.empty()) {
    co_await send_error(res, Status::service_unavailable, "no endpoints available", {},
                        "rejected-no-endpoints", ctx.request_id, ctx.version, ctx.keep_alive);
  } else {
    w.upstream_failures.fetch_add(1, std::memory_order_relaxed);
    co_await send_error(res, Status::bad_gateway, kUnreachable, {}, {}, ctx.request_id, ctx.version,
                        ctx.keep_alive);
  }
}

namespace {

// Response hooks may add headers (e.g. x-session-token); they get an empty list and whatever they put
// there is set on the client's response.
template <class Head>
void finish_head(Head& head, const sched::Endpoint& endpoint, const std::string& request_id,
                 Gateway::Exchange* exchange, const sched::Scheduler& scheduler) {
  head.set(kServedHeader, endpoint.host_port);
  head.set(kRequestIdHeader, request_id);
  if (exchange != nullptr) {
    sched::HeaderList added;
    scheduler.response_received(exchange->request, exchange->result, added);
    for (const auto& [name, value] : added) head.set(name, value);
  }
}

}  // namespace

http::Awaitable<Result<void>> Gateway::relay_stream(Worker& w, http::Request& req, http::Responder& res,
                                                    RequestState& s, int& status, bool& client_gone,
                                                    sched::ResponseCompletion& completion) {
  const sched::Scheduler& scheduler = scheduler_;
  const Clock& clock = clock_;
  ForwardContext& ctx = s.ctx;
  Exchange* const exchange = s.exchange ? &*s.exchange : nullptr;
  bool first = true;
  bool is_sse = false;
  http::SseParser sse;
  http::StreamHandler handler;
  handler.on_head = [&](const http::ResponseHead& head) -> http::Awaitable<bool> {
    status = head.result_int();
    http::ResponseHead out;
    out.result(head.result());
    out.version(ctx.version);
    for (const auto& f : head) {
      if (http::is_hop_by_hop(f.name()) || f.name() == Field::content_length) continue;
      out.insert(f.name_string(), f.value());
    }
    if (auto ct = head.find(Field::content_type); ct != head.end()) {
      is_sse = contains_ci(ct->value(), "text/event-stream");
    }
    ctx.sse = is_sse;
    finish_head(out, *ctx.endpoint, ctx.request_id, exchange, scheduler);
    const bool ok = co_await res.begin_stream(std::move(out));
    client_gone = !ok;
    co_return ok;
  };
  handler.on_body = [&](std::string_view bytes) -> http::Awaitable<bool> {
    if (exchange != nullptr) {
      if (first && ctx.series != nullptr) ctx.series->ttft->observe(to_seconds(clock.now() - ctx.start));
      scheduler.response_streaming(exchange->request, exchange->result,
                                   sched::ResponseChunk{first, bytes.size()});
      if (is_sse) {
        sse.feed(bytes, [&](const http::SseEvent& ev) { epp::read_usage(ev.data, completion); });
      }
    }
    first = false;
    const bool ok = co_await res.write(bytes);
    client_gone = !ok;
    co_return ok;
  };
  // A named argument: GCC 12 mishandles a temporary with a destructor in a co_await's arguments.
  const http::Upstream up{ctx.endpoint->address, ctx.endpoint->port};
  auto r = co_await w.client.stream(up, req, std::move(handler));
  co_return r;
}

// The upstream failed after the answer started. An SSE stream (every OpenAI stream) ends the way
// vLLM ends a failed one: an error event in OpenAI's error shape, then [DONE] and the terminal chunk,
// so clients see an error rather than a cut. Any other body is cut: its truncation is the only signal.
http::Awaitable<void> Gateway::end_failed_stream(Worker& w, http::Responder& res, RequestState& s,
                                                 const Error& cause) {
  const bool timeout = cause.code == ErrorCode::kTimeout;
  w.stream_failures[timeout ? 1 : 0].fetch_add(1, std::memory_order_relaxed);
  if (!s.ctx.sse) {
    res.abort();
    co_return;
  }
  const Status status = timeout ? Status::gateway_timeout : Status::bad_gateway;
  const std::string event =
      http::openai_error_body(status, timeout ? "the model server stopped answering mid-stream"
                                              : "the model server failed mid-stream");
  if (!co_await res.write_sse(event)) co_return;
  const std::string_view done = "[DONE]";
  if (!co_await res.write_sse(done)) co_return;
  co_await res.finish();
}

http::Awaitable<Gateway::Forwarded> Gateway::forward(Worker& w, http::Request& req, http::Responder& res,
                                                     RequestState& s) {
  ForwardContext& ctx = s.ctx;
  Exchange* const exchange = s.exchange ? &*s.exchange : nullptr;
  // What the response hooks get: written straight into the exchange (a passthrough has none).
  sched::ResponseCompletion unscheduled{sched::TerminationCause::kError, -1, -1};
  sched::ResponseCompletion& completion = exchange != nullptr ? exchange->completion : unscheduled;
  bool client_gone = false;
  int status = 0;
  bool accounted = false;  // duration and upstream status recorded
  // Records the upstream's answer; before the response is sent, so the metrics are current when the
  // client sees it.
  auto account = [&] {
    accounted = true;
    if (ctx.series == nullptr) return;
    ctx.series->duration->observe(to_seconds(clock_.now() - ctx.start));
    if (status / 100 != 2) metrics_.count_error(*ctx.series, RequestError::kModelServerError);
  };
  Result<void> outcome;

  if (!ctx.stream) {
    http::RelayResponse& out = s.relay;
    const http::Upstream up{ctx.endpoint->address, ctx.endpoint->port};
    outcome = co_await w.client.relay(up, req, out);
    if (outcome) {
      status = static_cast<int>(out.head.status);
      finish_head(out.head, *ctx.endpoint, ctx.request_id, exchange, scheduler_);
      if (contains_ci(out.head.find("content-type"), "json")) epp::read_usage(out.body, completion);
      account();
      const bool sent = co_await res.send_relayed(out.head, out.body);
      client_gone = !sent;
    }
  } else {
    outcome = co_await relay_stream(w, req, res, s, status, client_gone, completion);
  }

  if (!outcome && outcome.error().code == ErrorCode::kConnectFailed && !res.started()) {
    data_.record_local_failure(*ctx.endpoint);
    s.connect_error = outcome.error();
    log::debug("upstream connect failed", log::kv("endpoint", ctx.endpoint->id),
               log::kv("error", s.connect_error.message));
    co_return Forwarded::kConnectFailed;
  }

  client_gone =
      client_gone || res.client_gone() || (!outcome && outcome.error().code == ErrorCode::kCancelled);
  if (!accounted && status != 0) account();
  // Outlier detection sees what the model server did; a client that left says nothing about it.
  if (!outcome && !client_gone) {
    data_.record_local_failure(*ctx.endpoint);
  } else if (status != 0) {
    data_.record_response(*ctx.endpoint, status);
  }
  if (client_gone) {
    w.client_disconnects.fetch_add(1, std::memory_order_relaxed);
    completion.cause = sched::TerminationCause::kClientDisconnect;
    co_return Forwarded::kDone;
  }
  if (!outcome) {
    w.upstream_failures.fetch_add(1, std::memory_order_relaxed);
    completion.cause = sched::TerminationCause::kError;
    log::warn("upstream failed", log::kv("endpoint", ctx.endpoint->id), log::kv("request_id", ctx.request_id),
              log::kv("error", outcome.error().message));
    if (res.started()) {
      co_await end_failed_stream(w, res, s, outcome.error());
      co_return Forwarded::kDone;
    }
    if (ctx.series != nullptr) metrics_.count_error(*ctx.series, RequestError::kModelServerError);
    s.error_status =
        outcome.error().code == ErrorCode::kTimeout ? Status::gateway_timeout : Status::bad_gateway;
    // The address and the cause go to the log (and the endpoint to /debug/endpoints), not to the client.
    s.error_message = outcome.error().code == ErrorCode::kTimeout ? "the model server did not answer in time"
                                                                  : "the model server failed to answer";
    co_await send_error(res, s.error_status, s.error_message, {}, {}, ctx.request_id, ctx.version,
                        ctx.keep_alive);
    co_return Forwarded::kDone;
  }
  if (ctx.stream && res.started()) {
    const bool finished = co_await res.finish();
    if (!finished) {
      w.client_disconnects.fetch_add(1, std::memory_order_relaxed);
      completion.cause = sched::TerminationCause::kClientDisconnect;
      co_return Forwarded::kDone;
    }
  }
  completion.cause = sched::TerminationCause::kNatural;
  co_return Forwarded::kDone;
}

}  // namespace llmd::router
