#include "router/router_command.h"

#include <algorithm>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/signals.h"
#include "epp/epp_metrics.h"
#include "epp/runtime.h"
#include "http/server.h"
#include "json/json.h"
#include "log/log.h"
#include "metrics/registry.h"
#include "router/gateway.h"

namespace llmd::router {

namespace {

// The gateway's own flags; the rest is what every data plane shares.
struct RouterOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8081;
  unsigned threads = 0;
  std::string connect_timeout = "2s";
  std::string upstream_timeout = "10m";
  int max_attempts = 3;
  // The request parser's JSON limit: a larger body could only end in a 413 after being read whole.
  size_t max_body_bytes = json::ParseLimits{}.max_bytes;
  std::string read_timeout = "30s";
  std::string idle_timeout = "60s";
  std::string drain_timeout = "10s";
  std::string busy_poll = "500us";
  epp::RuntimeOptions runtime;
};

// The gateway's duration flags, parsed and checked.
struct RouterTimes {
  Nanos connect_timeout, upstream_timeout, busy_poll, read_timeout, idle_timeout, drain_timeout;
};

Result<RouterTimes> parse_times(const RouterOptions& o) {
  RouterTimes t;
  if (auto r = epp::parse_duration_flags({
          {"--connect-timeout", &o.connect_timeout, &t.connect_timeout},
          {"--upstream-timeout", &o.upstream_timeout, &t.upstream_timeout},
          {"--busy-poll", &o.busy_poll, &t.busy_poll},
          {"--read-timeout", &o.read_timeout, &t.read_timeout},
          {"--idle-timeout", &o.idle_timeout, &t.idle_timeout},
          {"--drain-timeout", &o.drain_timeout, &t.drain_timeout},
      });
      !r) {
    return r.error();
  }
  if (t.busy_poll.count() < 0) return Error(ErrorCode::kConfig, "--busy-poll must be >= 0");
  if (o.max_attempts < 1) return Error(ErrorCode::kConfig, "--max-attempts must be >= 1");
  return t;
}

template <class D>
auto ms(D d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

GatewayOptions gateway_options(const RouterOptions& o, const RouterTimes& t, const Clock& clock) {
  GatewayOptions g;
  g.connect_timeout = ms(t.connect_timeout);
  g.first_byte_timeout = ms(t.upstream_timeout);
  g.idle_timeout = g.first_byte_timeout;
  g.max_attempts = o.max_attempts;
  g.seed = o.runtime.seed != 0 ? o.runtime.seed : static_cast<uint64_t>(clock.wall_now().count());
  return g;
}

http::ServerOptions gateway_server_options(const RouterOptions& o, const RouterTimes& t, unsigned threads) {
  http::ServerOptions s;
  s.host = o.host;
  s.port = o.port;
  s.threads = threads;
  s.max_body_bytes = o.max_body_bytes;
  s.read_timeout = ms(t.read_timeout);
  s.idle_timeout = ms(t.idle_timeout);
  s.drain_timeout = ms(t.drain_timeout);
  s.busy_poll = std::chrono::duration_cast<std::chrono::microseconds>(t.busy_poll);
  s.server_header = "llmd-router";
  s.seed = o.runtime.seed;
  return s;
}

// Gateway counters read at exposition time.
Result<void> export_gateway_counters(metrics::Registry& registry, const Gateway& gateway) {
  auto failures = registry.counter_family(
      "llmd_router_stream_failures_total",
      "Answers whose model server failed after the client had received part of them, by cause.", {"reason"});
  if (!failures) return failures.error();
  if (auto r = (*failures)->with_callback(
          {"upstream_error"},
          [&gateway] { return static_cast<double>(gateway.stats().stream_upstream_errors); });
      !r) {
    return r;
  }
  return (*failures)->with_callback({"upstream_timeout"}, [&gateway] {
    return static_cast<double>(gateway.stats().stream_upstream_timeouts);
  });
}

int run(const RouterOptions& o) {
  block_stop_signals();  // before any thread starts; run_until_signal() unblocks them
  const Clock& clock = SystemClock::instance();
  auto fail = [](const Error& e) {
    log::error("llmd router: " + e.message);
    return 2;
  };
  auto times = parse_times(o);
  if (!times) return fail(times.error());
  const RouterTimes& t = *times;

  const unsigned threads = o.threads != 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  auto created = epp::Runtime::create(o.runtime, clock, threads, "llmd-router");
  if (!created) return fail(created.error());
  epp::Runtime& runtime = **created;
  Gateway gateway(runtime.scheduler(), runtime.store(), runtime.data(), runtime.metrics(), clock,
                  gateway_options(o, t, clock));
  if (auto r = export_gateway_counters(runtime.metrics().registry(), gateway); !r) return fail(r.error());

  http::Router routes;
  gateway.add_routes(routes);
  // Streams of long generations outlast the server's default idle/read bounds only through writes,
  // which reset the write timer; the read timeout covers receiving the request alone.
  auto server = std::make_unique<http::Server>(gateway_server_options(o, t, threads), std::move(routes));
  gateway.bind(*server);
  runtime.metrics().set_busy_poll_source([s = server.get()] { return s->stats().poll_seconds; });

  if (auto r = runtime.start(); !r) return fail(r.error());
  if (auto r = server->start(); !r) {
    runtime.stop();
    return fail(r.error());
  }
  log::info("llmd router ready", log::kv("port", server->port()), log::kv("admin_port", runtime.admin_port()),
            log::kv("endpoints", runtime.initial_endpoints()), log::kv("workers", server->worker_count()));

  server->run_until_signal();
  // The loops have stopped: release everything bound to them before they are destroyed. The admin
  // server drains before unbind(): its /metrics reads the gateway's per-worker counters.
  runtime.stop();
  gateway.unbind();
  server.reset();
  log::info("llmd router stopped");
  return 0;
}

}  // namespace

cli::RunFn setup_router_command(CLI::App& app) {
  auto o = std::make_shared<RouterOptions>();
  app.add_option("--host", o->host, "Address the gateway listens on")->capture_default_str();
  app.add_option("--port", o->port, "Gateway port (OpenAI API)")->capture_default_str();
  app.add_option("--threads", o->threads, "Worker threads (0: one per core)")->capture_default_str();
  app.add_option("--connect-timeout", o->connect_timeout, "Upstream connect timeout")->capture_default_str();
  app.add_option("--upstream-timeout", o->upstream_timeout, "Upstream first-byte and idle timeout")
      ->capture_default_str();
  app.add_option("--max-attempts", o->max_attempts, "Endpoints tried when connects fail")
      ->capture_default_str();
  app.add_option("--max-body-bytes", o->max_body_bytes, "Largest request body accepted")
      ->capture_default_str();
  app.add_option("--busy-poll", o->busy_poll,
                 "Most a worker polls its sockets before sleeping in epoll_wait; the window adapts, growing "
                 "while events come back within this bound and halving after each longer gap (0: never poll)")
      ->capture_default_str();
  app.add_option("--read-timeout", o->read_timeout, "A request (head and body) must arrive within this")
      ->capture_default_str();
  app.add_option("--idle-timeout", o->idle_timeout,
                 "A kept-alive client connection with no request is closed after this")
      ->capture_default_str();
  app.add_option("--drain-timeout", o->drain_timeout,
                 "On SIGTERM, in-flight requests get this long to finish")
      ->capture_default_str();
  epp::add_runtime_flags(app, o->runtime);
  return [o] { return run(*o); };
}

}  // namespace llmd::router
