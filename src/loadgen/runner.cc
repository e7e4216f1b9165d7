#include "loadgen/runner.h"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include "common/signals.h"
#include "http/sse.h"

namespace llmd::loadgen {

namespace asio = boost::asio;
using asio::as_tuple;
using asio::awaitable;
using asio::use_awaitable;

std::string Target::url() const { return fmt::format("http://{}:{}{}", host, port, base_path); }

Result<Target> parse_target(std::string_view url, std::string_view path) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("{}: {} (got '{}'; expected http://HOST:PORT[/PREFIX])", path, why, url));
  };
  // Boost.URL does the RFC 3986 parsing; we only accept the plain http subset.
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return bad("not an absolute URL");
  if (u->scheme() != "http") return bad("only http:// is supported");
  if (!u->has_authority() || u->host().empty()) return bad("missing host");
  if (u->has_userinfo() || u->has_query() || u->has_fragment())
    return bad("no user, query or fragment allowed");
  Target t;
  t.host = u->host();
  if (u->host_type() == boost::urls::host_type::ipv6) t.host = u->host_address();
  if (u->has_port()) {
    if (u->port_number() == 0) return bad("bad port");
    t.port = u->port_number();
  }
  t.base_path = u->encoded_path();
  while (!t.base_path.empty() && t.base_path.back() == '/') t.base_path.pop_back();
  // "/v1" is part of the API path we add; accept base URLs that already end in it.
  if (t.base_path.ends_with("/v1")) t.base_path.resize(t.base_path.size() - 3);
  return t;
}

namespace {

Nanos seconds_to_nanos(double s) { return Nanos(static_cast<int64_t>(s * 1e9)); }

// Bodies of failed responses are kept for the error message, up to this many bytes.
constexpr size_t kMaxErrorBody = 512;
// Non-streamed response bodies are buffered whole, up to this bound (then the request fails).
constexpr size_t kMaxWholeBody = 64 * 1024 * 1024;

RequestStatus status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kConnectFailed:
      return RequestStatus::kConnectFailed;
    case ErrorCode::kTimeout:
      return RequestStatus::kTimeout;
    case ErrorCode::kCancelled:
      return RequestStatus::kCancelled;
    case ErrorCode::kProtocol:
    case ErrorCode::kResourceExhausted:
      return RequestStatus::kProtocol;
    default:
      return RequestStatus::kIo;
  }
}

std::string stage_label(StageKind kind, LoadKind arrivals, const Stage& st) {
  std::string load =
      arrivals == LoadKind::kConcurrent
          ? fmt::format("concurrency {}", st.concurrency)
          : fmt::format("{} {:.4g}/s", arrivals == LoadKind::kPoisson ? "poisson" : "const", st.rate);
  if (kind == StageKind::kMeasure) return load;
  return fmt::format("{} {}", to_string(kind), load);
}

struct StageState {
  uint32_t index = 0;
  StageKind kind = StageKind::kMeasure;
  LoadKind arrivals = LoadKind::kConstant;
  Stage stage;
  std::deque<RequestRecord> records;  // stable addresses while requests are in flight
  uint64_t sent = 0, completed = 0, errors = 0;
  Nanos started{0};
};

}  // namespace

struct Runner::Impl {
  Impl(asio::io_context& io_, const Clock& clock_, const Workload& workload_, LoadSpec load_,
       RunnerOptions opt_)
      : io(io_),
        clock(clock_),
        workload(workload_),
        load(std::move(load_)),
        opt(std::move(opt_)),
        client(io.get_executor(), client_options(opt)),
        progress_timer(io) {
    bodies.reserve(workload.prompts.size());
    for (const auto& p : workload.prompts) bodies.push_back(render_body(p, opt.request));
    for (const auto& t : opt.targets) {
      upstreams.push_back(http::Upstream{t.host, t.port});
      paths.push_back(t.base_path + std::string(api_path(opt.request.api)));
    }
  }

  static http::ClientOptions client_options(const RunnerOptions& o) {
    http::ClientOptions c;
    c.connect_timeout = o.connect_timeout;
    c.first_byte_timeout = o.request_timeout;
    c.idle_timeout = o.request_timeout;
    c.max_idle_per_upstream = std::max<size_t>(256, o.max_inflight);
    c.max_response_body_bytes = kMaxWholeBody;
    return c;
  }

  // Parse state of one exchange: lives in the send() coroutine frame.
  struct Exchange {
    Impl& impl;
    RequestRecord& r;
    http::SseParser sse;
    std::function<void(const http::SseEvent&)> on_event;
    std::string body;
    Nanos now{0};
    bool ok_status = false, done = false, finished = false, stream_error = false, protocol_error = false;
    ChunkInfo usage;

    Exchange(Impl& i, RequestRecord& rec) : impl(i), r(rec) {
      on_event = [this](const http::SseEvent& e) { event(e); };
    }

    void head(const http::ResponseHead& h) {
      r.http_status = static_cast<uint16_t>(h.result_int());
      ok_status = r.http_status / 100 == 2;
    }

    bool on_bytes(std::string_view bytes) {
      if (!ok_status || !r.streamed) {
        const size_t cap = ok_status ? kMaxWholeBody : kMaxErrorBody;
        if (body.size() + bytes.size() > cap) {
          if (ok_status) {
            protocol_error = true;
            r.error = "response body too large";
            return false;
          }
          body.append(bytes.substr(0, cap - std::min(cap, body.size())));
          return true;
        }
        body.append(bytes);
        return true;
      }
      now = impl.clock.now();  // every event in this read arrived together
      if (!sse.feed(bytes, on_event)) {
        protocol_error = true;
        r.error = "SSE event over the size bound";
      }
      return !(protocol_error || stream_error);
    }

    void take(const ChunkInfo& info) {
      if (info.has_usage) usage = info;
      if (info.finished) finished = true;
    }

    void event(const http::SseEvent& e) {
      if (protocol_error || stream_error || done) return;
      auto info = impl.chunks.parse(e.data);
      if (!info) {
        protocol_error = true;
        r.error = info.error().message;
        return;
      }
      if (info->done) {
        done = true;
        return;
      }
      if (info->is_error) {
        stream_error = true;
        r.error = info->error_message;
        return;
      }
      if (info->has_content) r.token_times.push_back(now);
      take(*info);
    }

    void finish(const Result<void>& res, const Prompt& prompt) {
      if (protocol_error) {
        r.status = RequestStatus::kProtocol;
      } else if (!res) {
        r.status = status_for(res.error().code);
        r.error = res.error().message;
      } else if (!ok_status) {
        r.status = RequestStatus::kHttpError;
        r.error = body;
      } else if (r.streamed) {
        if (stream_error) {
          r.status = RequestStatus::kStreamError;
        } else if (!done && !finished) {
          r.status = RequestStatus::kIncomplete;
          r.error = "stream ended without [DONE]";
        }
      } else {
        auto info = impl.chunks.parse(body);
        if (!info) {
          r.status = RequestStatus::kProtocol;
          r.error = info.error().message;
        } else if (info->is_error) {
          r.status = RequestStatus::kStreamError;
          r.error = info->error_message;
        } else {
          take(*info);
        }
      }
      r.input_tokens = prompt.input_tokens;
      r.output_tokens = static_cast<uint32_t>(r.token_times.size());
      if (usage.has_usage) {
        r.usage_reported = true;
        if (usage.prompt_tokens > 0) r.input_tokens = usage.prompt_tokens;
        if (usage.completion_tokens > 0) r.output_tokens = usage.completion_tokens;
        r.cached_tokens = usage.cached_tokens;
      }
    }
  };

  awaitable<void> send(StageState& st, RequestRecord& r) {
    ++inflight;
    gen.max_inflight_seen = std::max<uint64_t>(gen.max_inflight_seen, inflight);
    const Prompt& prompt = workload.prompts[r.prompt];
    http::Request req{http::Verb::post, paths[r.upstream], 11};
    req.set(http::Field::content_type, "application/json");
    if (opt.request.stream) req.set(http::Field::accept, "text/event-stream");
    for (const auto& [k, v] : opt.headers) req.set(k, v);
    req.body() = bodies[r.prompt];
    r.streamed = opt.request.stream;
    r.token_times.reserve(prompt.max_tokens + 1);
    Exchange ex(*this, r);
    http::StreamHandler handler;
    handler.on_head = [&ex](const http::ResponseHead& h) -> awaitable<bool> {
      ex.head(h);
      co_return true;
    };
    handler.on_body = [&ex](std::string_view bytes) -> awaitable<bool> { co_return ex.on_bytes(bytes); };
    r.start = clock.now();
    auto res = co_await client.stream(upstreams[r.upstream], req, std::move(handler));
    r.end = clock.now();
    ex.finish(res, prompt);
    --inflight;
    ++st.completed;
    if (!r.ok()) ++st.errors;
  }

  RequestRecord& new_record(StageState& st, Nanos due) {
    RequestRecord& r = st.records.emplace_back();
    r.id = next_id++;
    r.stage = st.index;
    r.scheduled = due;
    r.prompt = static_cast<uint32_t>(next_prompt++ % workload.prompts.size());
    r.upstream = static_cast<uint32_t>(next_upstream++ % upstreams.size());
    ++st.sent;
    return r;
  }

  void launch(StageState& st, Nanos due) {
    RequestRecord& r = new_record(st, due);
    if (inflight >= opt.max_inflight) {
      r.status = RequestStatus::kDropped;
      r.start = r.end = clock.now();
      r.error = "in-flight bound reached";
      ++gen.dropped;
      ++st.completed;
      ++st.errors;
      return;
    }
    asio::co_spawn(io, send(st, r), asio::detached);
  }

  awaitable<void> wait_all_done(StageState& st) {
    asio::steady_timer t(io);
    while (st.completed < st.sent) {
      t.expires_after(std::chrono::milliseconds(2));
      co_await t.async_wait(as_tuple(use_awaitable));
    }
  }

  awaitable<void> run_rate(StageState& st) {
    ArrivalProcess arrivals(st.arrivals, st.stage.rate,
                            Rng(opt.seed + 0x9E3779B97F4A7C15ull * (st.index + 1)));
    asio::steady_timer timer(io);
    const Nanos t0 = st.started;
    const Nanos end = st.stage.duration_s > 0 ? t0 + seconds_to_nanos(st.stage.duration_s) : Nanos::max();
    int immediate = 0;
    while (!stopping) {
      if (st.stage.num_requests > 0 && st.sent >= st.stage.num_requests) break;
      const Nanos due = t0 + seconds_to_nanos(arrivals.next_arrival());
      if (due >= end) break;
      const Nanos now = clock.now();
      if (due > now) {
        timer.expires_after(due - now);
        co_await timer.async_wait(as_tuple(use_awaitable));
        immediate = 0;
      } else if (++immediate >= 32) {
        // Behind schedule: still let responses be read between bursts of sends.
        immediate = 0;
        co_await asio::post(io, use_awaitable);
      }
      if (stopping) break;
      launch(st, due);
    }
    co_await wait_all_done(st);
  }

  awaitable<void> worker(StageState& st, Nanos end, uint32_t& running) {
    while (!stopping && clock.now() < end &&
           (st.stage.num_requests == 0 || st.sent < st.stage.num_requests)) {
      const Nanos now = clock.now();
      RequestRecord& r = new_record(st, now);
      co_await send(st, r);
    }
    --running;
  }

  awaitable<void> run_concurrent(StageState& st) {
    const Nanos end =
        st.stage.duration_s > 0 ? st.started + seconds_to_nanos(st.stage.duration_s) : Nanos::max();
    uint32_t running = st.stage.concurrency;
    for (uint32_t i = 0; i < st.stage.concurrency; ++i)
      asio::co_spawn(io, worker(st, end, running), asio::detached);
    asio::steady_timer t(io);
    while (running > 0) {
      t.expires_after(std::chrono::milliseconds(2));
      co_await t.async_wait(as_tuple(use_awaitable));
    }
  }

  Summary summarize_stage(const StageState& st) const {
    std::vector<const RequestRecord*> ptrs;
    ptrs.reserve(st.records.size());
    for (const auto& r : st.records) ptrs.push_back(&r);
    return summarize(std::span<const RequestRecord* const>(ptrs), opt.slo);
  }

  awaitable<Summary> run_stage(StageKind kind, LoadKind arrivals, const Stage& stage) {
    auto st = std::make_unique<StageState>();
    st->index = static_cast<uint32_t>(stages.size());
    st->kind = kind;
    st->arrivals = arrivals;
    st->stage = stage;
    st->started = clock.now();
    StageState& ref = *st;
    stages.push_back(std::move(st));
    current = &ref;
    progress_completed = 0;
    progress_at = ref.started;
    if (arrivals == LoadKind::kConcurrent) {
      co_await run_concurrent(ref);
    } else {
      co_await run_rate(ref);
    }
    current = nullptr;
    Summary s = summarize_stage(ref);
    if (sink) sink->on_stage_done(StageResult{ref.index, kind, arrivals, stage, s});
    co_return s;
  }

  awaitable<void> progress_loop() {
    while (!run_done) {
      progress_timer.expires_after(opt.progress_interval);
      co_await progress_timer.async_wait(as_tuple(use_awaitable));
      if (run_done || current == nullptr || sink == nullptr) continue;
      const StageState& st = *current;
      const Nanos now = clock.now();
      ProgressSnapshot s;
      s.stage = st.index;
      s.stages = planned_stages;
      s.stage_label = stage_label(st.kind, st.arrivals, st.stage);
      s.elapsed_s = to_seconds(now - st.started);
      if (st.stage.duration_s > 0) s.stage_duration_s = st.stage.duration_s;
      if (st.stage.num_requests > 0) s.stage_requests = st.stage.num_requests;
      s.sent = st.sent;
      s.completed = st.completed;
      s.errors = st.errors;
      s.in_flight = inflight;
      const double dt = to_seconds(now - progress_at);
      if (dt > 0) s.rate = static_cast<double>(st.completed - progress_completed) / dt;
      progress_completed = st.completed;
      progress_at = now;
      sink->on_progress(s);
    }
  }

  awaitable<Result<RunOutput>> run() {
    RunOutput out;
    out.origin = clock.now();
    out.result.info.wall_start = clock.wall_now();
    const LoadKind rate_kind = load.kind == LoadKind::kSweep ? load.sweep.arrivals : load.kind;
    planned_stages = static_cast<uint32_t>((load.warmup ? 1 : 0) + (load.kind == LoadKind::kSweep
                                                                        ? 1 + load.sweep.num_stages
                                                                        : load.stages.size()));
    if (sink) asio::co_spawn(io, progress_loop(), asio::detached);

    std::optional<Error> failure;
    if (load.warmup && !stopping) co_await run_stage(StageKind::kWarmup, rate_kind, *load.warmup);
    if (load.kind == LoadKind::kSweep) {
      load.stages.clear();  // the ladder is derived from the probe and recorded as it runs
      Stage probe;
      probe.concurrency = load.sweep.probe_concurrency;
      probe.duration_s = load.sweep.probe_duration_s;
      // Not `cond ? x : co_await ...`: g++ 12 miscompiles co_await inside a conditional expression.
      Summary ps;
      if (!stopping) ps = co_await run_stage(StageKind::kProbe, LoadKind::kConcurrent, probe);
      if (!stopping && !(ps.request_rate > 0)) {
        failure = make_error(ErrorCode::kUnavailable, "sweep: the saturation probe completed no request");
      }
      if (!failure) {
        for (double rate : sweep_rates(ps.request_rate, load.sweep)) {
          if (stopping) break;
          Stage s;
          s.rate = rate;
          s.duration_s = load.sweep.stage_duration_s;
          load.stages.push_back(s);
          co_await run_stage(StageKind::kMeasure, load.sweep.arrivals, s);
        }
      }
    } else {
      for (const auto& s : load.stages) {
        if (stopping) break;
        co_await run_stage(StageKind::kMeasure, load.kind, s);
      }
    }
    run_done = true;
    progress_timer.cancel();
    if (failure) co_return *failure;

    auto& res = out.result;
    res.info.wall_end = clock.wall_now();
    for (const auto& t : opt.targets) res.info.targets.push_back(t.url());
    res.info.request = opt.request;
    res.info.workload = workload.spec;
    res.info.tokenizer = workload.tokenizer;
    res.info.load = load;
    res.info.slo = opt.slo;
    std::vector<const RequestRecord*> measured;
    for (auto& st : stages) {
      res.stages.push_back(StageResult{st->index, st->kind, st->arrivals, st->stage, summarize_stage(*st)});
      if (st->kind == StageKind::kMeasure) {
        for (const auto& r : st->records) measured.push_back(&r);
      }
    }
    res.overall = summarize(std::span<const RequestRecord* const>(measured), opt.slo);
    const http::ClientStats cs = client.stats();
    gen.connects = cs.connects;
    gen.connect_failures = cs.connect_failures;
    gen.reused_connections = cs.reused;
    res.generator = gen;
    for (auto& st : stages) out.records.push_back(std::move(st->records));
    co_return out;
  }

  asio::io_context& io;
  const Clock& clock;
  const Workload& workload;
  LoadSpec load;
  RunnerOptions opt;
  http::Client client;
  asio::steady_timer progress_timer;
  std::vector<std::string> bodies;
  std::vector<http::Upstream> upstreams;
  std::vector<std::string> paths;
  ChunkParser chunks;  // shared: parsing never spans a suspension point
  std::vector<std::unique_ptr<StageState>> stages;
  StageState* current = nullptr;
  ProgressSink* sink = nullptr;
  uint32_t planned_stages = 0;
  uint64_t progress_completed = 0;
  Nanos progress_at{0};
  uint64_t next_prompt = 0, next_id = 0, next_upstream = 0;
  size_t inflight = 0;
  bool stopping = false;
  bool run_done = false;
  GeneratorStats gen;
};

Runner::Runner(asio::io_context& io, const Clock& clock, const Workload& workload, LoadSpec load,
               RunnerOptions options)
    : impl_(std::make_unique<Impl>(io, clock, workload, std::move(load), std::move(options))) {}

Runner::~Runner() = default;

awaitable<Result<RunOutput>> Runner::run(ProgressSink* sink) {
  if (impl_->workload.prompts.empty())
    co_return make_error(ErrorCode::kInvalidArgument, "workload has no prompts");
  if (impl_->upstreams.empty()) co_return make_error(ErrorCode::kInvalidArgument, "no target");
  impl_->sink = sink;
  co_return co_await impl_->run();
}

void Runner::stop() { impl_->stopping = true; }

Result<RunOutput> run_blocking(const Clock& clock, const Workload& workload, const LoadSpec& load,
                               const RunnerOptions& options, ProgressSink* sink, bool handle_signals) {
  asio::io_context io(1);
  Runner runner(io, clock, workload, load, options);
  std::optional<Result<RunOutput>> out;
  asio::signal_set signals(io);
  int signal_count = 0;
  std::function<void()> arm = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (++signal_count == 1) {
        std::fputs("\nllmd bench: stopping; waiting for requests in flight (interrupt again to abandon)\n",
                   stderr);
        runner.stop();
        arm();
      } else {
        // Abandoning means no report: leave at once rather than unwinding in-flight exchanges.
        std::fputs("\nllmd bench: abandoned\n", stderr);
        std::_Exit(130);
      }
    });
  };
  if (handle_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    arm();
    // A caller that held stop signals pending (block_stop_signals) gets them now, with this handler in
    // place; otherwise this changes nothing.
    unblock_stop_signals();
  }
  asio::co_spawn(io, runner.run(sink), [&](std::exception_ptr e, Result<RunOutput> r) {
    if (e) {
      out = make_error(ErrorCode::kInternal, "benchmark run failed with an exception");
    } else {
      out = std::move(r);
    }
    signals.cancel();
  });
  io.run();
  if (!out) return make_error(ErrorCode::kInternal, "benchmark run did not complete");
  return std::move(*out);
}

}  // namespace llmd::loadgen
