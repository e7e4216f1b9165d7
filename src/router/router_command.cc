#include "router/router_command.h"

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <malloc.h>

#include "common/clock.h"
#include "common/signals.h"
#include "config/config.h"
#include "datalayer/data_layer.h"
#include "datalayer/discovery.h"
#include "epp/admin.h"
#include "epp/epp_metrics.h"
#include "http/server.h"
#include "http/tick_loop.h"
#include "json/json.h"
#include "log/log.h"
#include "metrics/registry.h"
#include "router/gateway.h"
#include "sched/builtin_plugins.h"
#include "sched/picker_config.h"
#include "sched/scheduler.h"

namespace llmd::router {

namespace {

using datalayer::DataLayer;
using datalayer::DataLayerOptions;
using datalayer::DiscoveryDefaults;
using datalayer::DiscoveryWatcher;
using datalayer::EndpointTarget;
using epp::AdminContext;
using epp::EppMetrics;

struct RouterOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8081;
  std::string admin_host = "0.0.0.0";
  uint16_t admin_port = 9090;
  unsigned threads = 0;
  std::vector<std::string> endpoints;
  std::string discovery_file;
  std::string discovery_poll = "1s";
  std::string ns = "default";
  std::string config_file;
  std::string config_text;
  std::string refresh_metrics_interval = "50ms";
  std::string staleness = "2s";
  std::string scrape_timeout = "1s";
  std::string models_interval = "5s";
  std::string pool_name = "llmd";
  std::string connect_timeout = "2s";
  std::string upstream_timeout = "10m";
  int max_attempts = 3;
  // The request parser's JSON limit: a larger body could only end in a 413 after being read whole.
  size_t max_body_bytes = json::ParseLimits{}.max_bytes;
  std::string read_timeout = "30s";
  std::string idle_timeout = "60s";
  std::string drain_timeout = "10s";
  datalayer::OutlierOptions outlier;
  std::string outlier_base_ejection_time = "30s";
  std::string outlier_max_ejection_time = "300s";
  std::string outlier_interval = "10s";
  uint64_t seed = 0;
  std::string busy_poll = "500us";
  std::string scrape_tick = "5ms";
  bool scrape_by_name = true;
};

// A duration flag, spelled as in config files ("50ms", "1m30s").
Result<Nanos> parse_duration(std::string_view flag, const std::string& text) {
  auto d = config::parse_duration(text);
  if (!d) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("{}: \"{}\" is not a duration such as 50ms or 2s", flag, text));
  }
  return d;
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kConfig, fmt::format("cannot read {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The duration flags, parsed and checked.
struct RouterTimes {
  Nanos interval, staleness, scrape_timeout, models_interval, discovery_poll, connect_timeout,
      upstream_timeout, busy_poll, scrape_tick, read_timeout, idle_timeout, drain_timeout, base_ejection,
      max_ejection, outlier_interval;
};

Result<RouterTimes> parse_times(const RouterOptions& o) {
  RouterTimes t;
  for (auto [flag, text, out] :
       {std::tuple{"--refresh-metrics-interval", &o.refresh_metrics_interval, &t.interval},
        std::tuple{"--metrics-staleness-threshold", &o.staleness, &t.staleness},
        std::tuple{"--scrape-timeout", &o.scrape_timeout, &t.scrape_timeout},
        std::tuple{"--models-refresh-interval", &o.models_interval, &t.models_interval},
        std::tuple{"--discovery-poll-interval", &o.discovery_poll, &t.discovery_poll},
        std::tuple{"--connect-timeout", &o.connect_timeout, &t.connect_timeout},
        std::tuple{"--upstream-timeout", &o.upstream_timeout, &t.upstream_timeout},
        std::tuple{"--busy-poll", &o.busy_poll, &t.busy_poll},
        std::tuple{"--scrape-tick", &o.scrape_tick, &t.scrape_tick},
        std::tuple{"--read-timeout", &o.read_timeout, &t.read_timeout},
        std::tuple{"--idle-timeout", &o.idle_timeout, &t.idle_timeout},
        std::tuple{"--drain-timeout", &o.drain_timeout, &t.drain_timeout},
        std::tuple{"--outlier-base-ejection-time", &o.outlier_base_ejection_time, &t.base_ejection},
        std::tuple{"--outlier-max-ejection-time", &o.outlier_max_ejection_time, &t.max_ejection},
        std::tuple{"--outlier-interval", &o.outlier_interval, &t.outlier_interval}}) {
    auto d = parse_duration(flag, *text);
    if (!d) return d.error();
    *out = *d;
  }
  if (t.discovery_poll.count() <= 0)
    return Error(ErrorCode::kConfig, "--discovery-poll-interval must be > 0");
  return t;
}

// Endpoints from the flags and from the discovery file; the file's part is replaced on each change.
struct Targets {
  std::vector<EndpointTarget> from_flags;
  std::vector<EndpointTarget> from_file;

  std::vector<EndpointTarget> merged(std::vector<EndpointTarget> file) const {
    std::vector<EndpointTarget> all = from_flags;
    for (auto& t : file) all.push_back(std::move(t));
    return all;
  }
};

Result<Targets> load_targets(const RouterOptions& o, const DiscoveryDefaults& defaults) {
  if (o.endpoints.empty() && o.discovery_file.empty()) {
    return Error(ErrorCode::kConfig, "give --endpoint (repeatable) or --discovery-file");
  }
  Targets t;
  for (const auto& e : o.endpoints) {
    auto target = parse_endpoint_flag(e, defaults);
    if (!target) return target.error();
    t.from_flags.push_back(std::move(*target));
  }
  if (!o.discovery_file.empty()) {
    auto from_file = load_discovery_file(o.discovery_file, defaults);
    if (!from_file) return from_file.error();
    t.from_file = std::move(*from_file);
  }
  if (auto r = check_targets(t.merged(t.from_file)); !r) return r.error();
  return t;
}

// The EndpointPickerConfig from --config-file or --config-text (empty: llm-d's defaults).
Result<sched::SchedulerPlan> load_plan(const RouterOptions& o, const Clock& clock) {
  std::string config_text = o.config_text;
  std::string config_source = "--config-text";
  if (!o.config_file.empty()) {
    if (!config_text.empty())
      return Error(ErrorCode::kConfig, "give --config-file or --config-text, not both");
    auto text = read_text_file(o.config_file);
    if (!text) return text.error();
    config_text = std::move(*text);
    config_source = o.config_file;
  }
  return sched::load_scheduler_plan(config_text, sched::builtin_registry(), clock, config_source);
}

template <class D>
auto ms(D d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

DataLayerOptions data_layer_options(const RouterOptions& o, const RouterTimes& t) {
  DataLayerOptions d;
  d.staleness_threshold = t.staleness;
  d.scrape_timeout = ms(t.scrape_timeout);
  d.models_interval = t.models_interval;
  d.scrape_by_name = o.scrape_by_name;
  d.outlier = o.outlier;
  d.outlier.base_ejection_time = t.base_ejection;
  d.outlier.max_ejection_time = t.max_ejection;
  d.outlier.interval = t.outlier_interval;
  return d;
}

GatewayOptions gateway_options(const RouterOptions& o, const RouterTimes& t, const Clock& clock) {
  GatewayOptions g;
  g.connect_timeout = ms(t.connect_timeout);
  g.first_byte_timeout = ms(t.upstream_timeout);
  g.idle_timeout = g.first_byte_timeout;
  g.max_attempts = o.max_attempts;
  g.seed = o.seed != 0 ? o.seed : static_cast<uint64_t>(clock.wall_now().count());
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
  s.seed = o.seed;
  return s;
}

http::ServerOptions admin_server_options(const RouterOptions& o) {
  http::ServerOptions s;
  s.host = o.admin_host;
  s.port = o.admin_port;
  s.threads = 1;
  s.server_header = "llmd-router";
  return s;
}

// Re-reads the discovery file when it changes; null without one.
std::shared_ptr<DiscoveryWatcher> watch_discovery(const RouterOptions& o, const RouterTimes& t,
                                                  const DiscoveryDefaults& defaults, const Targets& targets,
                                                  boost::asio::any_io_executor ex, DataLayer& data) {
  if (o.discovery_file.empty()) return nullptr;
  auto watcher = std::make_shared<DiscoveryWatcher>(
      ex, o.discovery_file, defaults, ms(t.discovery_poll),
      [&data, &targets](std::vector<EndpointTarget> file) {
        if (auto r = data.apply(targets.merged(std::move(file))); !r) {
          log::error("discovery update rejected", log::kv("error", r.error().message));
        }
      });
  (void)watcher->load_initial();  // records the file's identity; the content was applied at start
  watcher->start();
  return watcher;
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

// Outlier detection's ejections (by reason) and returns, read at exposition time.
Result<void> export_outlier_counters(metrics::Registry& registry, const DataLayer& data) {
  auto ejections =
      registry.counter_family("llmd_router_outlier_ejections_total",
                              "Endpoints ejected by passive outlier detection, by reason.", {"reason"});
  if (!ejections) return ejections.error();
  for (size_t i = 0; i < datalayer::kEjectionReasons; ++i) {
    const auto reason = static_cast<datalayer::EjectionReason>(i);
    if (auto r = (*ejections)
                     ->with_callback({to_string(reason)},
                                     [&data, i] { return static_cast<double>(data.stats().ejections[i]); });
        !r) {
      return r;
    }
  }
  if (auto r =
          registry.counter_callback("llmd_router_outlier_ejections_skipped_total",
                                    "Ejections not made because max_ejection_percent was reached.",
                                    [&data] { return static_cast<double>(data.stats().ejections_skipped); });
      !r) {
    return r;
  }
  return registry.counter_callback("llmd_router_outlier_returns_total",
                                   "Ejected endpoints readmitted after their ejection time.",
                                   [&data] { return static_cast<double>(data.stats().returns); });
}

// Gives the allocator's free pages back to the kernel every second, off the request path. Bursts of
// requests that clients abandon leave free memory scattered across glibc's per-thread arenas, which it
// keeps: RSS crept up round after round (42 to 50 MiB over rounds 5 to 40 at 1,000 in flight) although
// nothing leaked; with the trim it stays at what is in use (docs/benchmarks.md, Router memory).
http::Awaitable<void> trim_loop() {
  boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
  for (;;) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (ec) co_return;
    ::malloc_trim(0);
  }
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
  if (t.busy_poll.count() < 0) return fail(Error(ErrorCode::kConfig, "--busy-poll must be >= 0"));
  if (t.scrape_tick.count() < 0) return fail(Error(ErrorCode::kConfig, "--scrape-tick must be >= 0"));
  if (o.max_attempts < 1) return fail(Error(ErrorCode::kConfig, "--max-attempts must be >= 1"));
  const DiscoveryDefaults defaults{o.ns, t.interval};
  auto targets = load_targets(o, defaults);
  if (!targets) return fail(targets.error());
  auto plan = load_plan(o, clock);
  if (!plan) return fail(plan.error());

  const unsigned threads = o.threads != 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  sched::EndpointStore store;
  DataLayer data(store, clock, data_layer_options(o, t));
  EppMetrics metrics(clock, o.pool_name, store, threads);
  metrics.bind_plan(*plan);
  metrics.set_poll_error_source([&data] { return static_cast<double>(data.stats().scrape_errors); });
  sched::Scheduler scheduler(std::move(*plan), store, clock, &metrics);
  Gateway gateway(scheduler, store, data, metrics, clock, gateway_options(o, t, clock));
  if (auto r = export_gateway_counters(metrics.registry(), gateway); !r) return fail(r.error());
  if (auto r = export_outlier_counters(metrics.registry(), data); !r) return fail(r.error());

  http::Router routes;
  gateway.add_routes(routes);
  // Streams of long generations outlast the server's default idle/read bounds only through writes,
  // which reset the write timer; the read timeout covers receiving the request alone.
  auto server = std::make_unique<http::Server>(gateway_server_options(o, t, threads), std::move(routes));
  gateway.bind(*server);
  metrics.set_busy_poll_source([s = server.get()] { return s->stats().poll_seconds; });
  // Scrapes get their own loop, off the request path, that reads the answers of a tick together.
  http::TickLoop scrape_loop(std::chrono::duration_cast<std::chrono::microseconds>(t.scrape_tick));
  data.attach({scrape_loop.executor()});
  boost::asio::co_spawn(scrape_loop.executor(), trim_loop(), boost::asio::detached);
  scrape_loop.start();

  http::Router admin_routes;
  add_admin_routes(admin_routes, AdminContext{&data, &metrics, &store, &clock});
  auto admin = std::make_unique<http::Server>(admin_server_options(o), std::move(admin_routes));

  if (auto r = data.apply(targets->merged(targets->from_file)); !r) return fail(r.error());
  auto watcher = watch_discovery(o, t, defaults, *targets, server->worker_executor(0), data);

  if (auto r = admin->start(); !r) {
    data.stop();
    scrape_loop.stop();
    return fail(r.error());
  }
  if (auto r = server->start(); !r) {
    data.stop();
    scrape_loop.stop();
    admin->drain();
    admin->wait();
    return fail(r.error());
  }
  log::info("llmd router ready", log::kv("port", server->port()), log::kv("admin_port", admin->port()),
            log::kv("endpoints", targets->from_flags.size() + targets->from_file.size()),
            log::kv("workers", server->worker_count()));

  server->run_until_signal();
  // The loops have stopped: release everything bound to them before they are destroyed.
  if (watcher) watcher->stop();
  data.stop();
  scrape_loop.stop();
  admin->drain();  // before unbind(): its /metrics reads the gateway's per-worker counters
  admin->wait();
  gateway.unbind();
  watcher.reset();
  server.reset();
  log::info("llmd router stopped");
  return 0;
}

}  // namespace

cli::RunFn setup_router_command(CLI::App& app) {
  auto o = std::make_shared<RouterOptions>();
  app.add_option("--host", o->host, "Address the gateway listens on")->capture_default_str();
  app.add_option("--port", o->port, "Gateway port (OpenAI API)")->capture_default_str();
  app.add_option("--admin-host", o->admin_host, "Address of the admin endpoints")->capture_default_str();
  app.add_option("--admin-port", o->admin_port, "Port of /health, /ready, /metrics, /debug/endpoints")
      ->capture_default_str();
  app.add_option("--threads", o->threads, "Worker threads (0: one per core)")->capture_default_str();
  app.add_option(
      "--endpoint", o->endpoints,
      "Model server host:port[,key=value...] (repeatable); keys name, namespace, engine, interval, "
      "metrics-path, anything else is a label");
  app.add_option("--discovery-file", o->discovery_file,
                 "YAML or JSON endpoint list, reloaded when it changes");
  app.add_option("--discovery-poll-interval", o->discovery_poll, "How often the discovery file is checked")
      ->capture_default_str();
  app.add_option("--namespace", o->ns, "Namespace part of endpoint ids")->capture_default_str();
  app.add_option("--config-file", o->config_file,
                 "EndpointPickerConfig YAML (default: llm-d's default config)");
  app.add_option("--config-text", o->config_text, "EndpointPickerConfig as text");
  app.add_option("--refresh-metrics-interval", o->refresh_metrics_interval, "Default /metrics scrape period")
      ->capture_default_str();
  app.add_option("--metrics-staleness-threshold", o->staleness,
                 "An endpoint without a good scrape for this long stops receiving requests")
      ->capture_default_str();
  app.add_option("--scrape-timeout", o->scrape_timeout, "Timeout of one scrape")->capture_default_str();
  app.add_option("--models-refresh-interval", o->models_interval,
                 "Period of GET /v1/models per endpoint (0: never)")
      ->capture_default_str();
  app.add_option("--pool-name", o->pool_name, "`name` label of the pool gauges")->capture_default_str();
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
  app.add_option("--scrape-tick", o->scrape_tick,
                 "Scrapes run on one loop that wakes once per tick and reads every answer that has "
                 "arrived (0: wake for each answer)")
      ->capture_default_str();
  app.add_flag("--scrape-by-name,!--no-scrape-by-name", o->scrape_by_name,
               "Ask each /metrics for the needed series only (?name[]=..., honoured by vLLM's and "
               "SGLang's Prometheus clients; others send the whole page). On by default");
  app.add_option("--seed", o->seed, "Seed for tie-breaking and request ids (0: from the clock)");
  app.add_option("--read-timeout", o->read_timeout, "A request (head and body) must arrive within this")
      ->capture_default_str();
  app.add_option("--idle-timeout", o->idle_timeout,
                 "A kept-alive client connection with no request is closed after this")
      ->capture_default_str();
  app.add_option("--drain-timeout", o->drain_timeout,
                 "On SIGTERM, in-flight requests get this long to finish")
      ->capture_default_str();
  // Passive outlier detection, named and defaulted as Envoy's.
  app.add_option("--outlier-consecutive-5xx", o->outlier.consecutive_5xx,
                 "Eject an endpoint after this many 5xx answers or failures in a row (0: never)")
      ->capture_default_str();
  app.add_option("--outlier-consecutive-gateway-failure", o->outlier.consecutive_gateway_failure,
                 "... after this many 502/503/504 answers or failures in a row (0: never)")
      ->capture_default_str();
  app.add_option("--outlier-consecutive-local-origin-failure", o->outlier.consecutive_local_origin_failure,
                 "... after this many connect failures or timeouts in a row (0: never)")
      ->capture_default_str();
  app.add_option("--outlier-base-ejection-time", o->outlier_base_ejection_time,
                 "An ejection lasts this times the endpoint's ejection count")
      ->capture_default_str();
  app.add_option("--outlier-max-ejection-time", o->outlier_max_ejection_time, "Longest ejection")
      ->capture_default_str();
  app.add_option("--outlier-max-ejection-percent", o->outlier.max_ejection_percent,
                 "Most endpoints ejected at once, in percent (one may always be)")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--outlier-interval", o->outlier_interval,
                 "Each interval an endpoint stays admitted takes one off its ejection count")
      ->capture_default_str();
  return [o] { return run(*o); };
}

}  // namespace llmd::router
