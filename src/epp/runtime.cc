#include "epp/runtime.h"

#include <fstream>
#include <sstream>
#include <utility>

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <malloc.h>

#include "config/config.h"
#include "datalayer/discovery.h"
#include "epp/admin.h"
#include "epp/epp_metrics.h"
#include "http/server.h"
#include "http/tick_loop.h"
#include "log/log.h"
#include "metrics/registry.h"
#include "sched/builtin_plugins.h"
#include "sched/data_plane.h"
#include "sched/picker_config.h"
#include "sched/scheduler.h"

namespace llmd::epp {

namespace {

using datalayer::DataLayer;
using datalayer::DataLayerOptions;
using datalayer::DiscoveryDefaults;
using datalayer::DiscoveryWatcher;
using datalayer::EndpointTarget;

template <class D>
auto ms(D d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kConfig, fmt::format("cannot read {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The duration flags, parsed and checked.
struct RuntimeTimes {
  Nanos interval, staleness, scrape_timeout, models_interval, discovery_poll, scrape_tick, base_ejection,
      max_ejection, outlier_interval;
};

Result<RuntimeTimes> parse_times(const RuntimeOptions& o) {
  RuntimeTimes t;
  if (auto r = parse_duration_flags({
          {"--refresh-metrics-interval", &o.refresh_metrics_interval, &t.interval},
          {"--metrics-staleness-threshold", &o.staleness, &t.staleness},
          {"--scrape-timeout", &o.scrape_timeout, &t.scrape_timeout},
          {"--models-refresh-interval", &o.models_interval, &t.models_interval},
          {"--discovery-poll-interval", &o.discovery_poll, &t.discovery_poll},
          {"--scrape-tick", &o.scrape_tick, &t.scrape_tick},
          {"--outlier-base-ejection-time", &o.outlier_base_ejection_time, &t.base_ejection},
          {"--outlier-max-ejection-time", &o.outlier_max_ejection_time, &t.max_ejection},
          {"--outlier-interval", &o.outlier_interval, &t.outlier_interval},
      });
      !r) {
    return r.error();
  }
  if (t.discovery_poll.count() <= 0)
    return Error(ErrorCode::kConfig, "--discovery-poll-interval must be > 0");
  if (t.scrape_tick.count() < 0) return Error(ErrorCode::kConfig, "--scrape-tick must be >= 0");
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

// Where the endpoints come from: the flags, or else the EndpointPickerConfig's dataLayer discovery.
struct DiscoverySource {
  std::vector<std::string> endpoints;  // --endpoint values
  std::string file;                    // empty: none
  bool watch = true;                   // --discovery-file is always watched; the config says
};

DiscoverySource discovery_source(const RuntimeOptions& o, const sched::DataPlanePlan& plan) {
  if (!o.endpoints.empty() || !o.discovery_file.empty() || !plan.discovery) {
    return {o.endpoints, o.discovery_file, true};
  }
  log::info("endpoints from the EndpointPickerConfig's file discovery", log::kv("path", plan.discovery->path),
            log::kv("watch", plan.discovery->watch));
  return {{}, plan.discovery->path, plan.discovery->watch};
}

// What the config's dataLayer says about scraping, over the flags' defaults.
Result<DiscoveryDefaults> discovery_defaults(const RuntimeOptions& o, const RuntimeTimes& t,
                                             const sched::DataPlanePlan& plan) {
  DiscoveryDefaults d{o.ns, t.interval};
  // Not scraped: llm-d's "no data sources configured; metrics collection is disabled".
  if (!plan.scrape_metrics) d.scrape_interval = Nanos(0);
  if (plan.scrape_metrics && plan.scrape.interval) d.scrape_interval = *plan.scrape.interval;
  d.metrics_path = plan.scrape.path;
  auto engine = datalayer::parse_engine_type(plan.default_engine);
  if (!engine) return engine.error();
  d.engine = *engine;
  return d;
}

Result<Targets> load_targets(const DiscoverySource& source, const DiscoveryDefaults& defaults) {
  if (source.endpoints.empty() && source.file.empty()) {
    return Error(ErrorCode::kConfig,
                 "give --endpoint (repeatable) or --discovery-file, or name a file-discovery plugin in the "
                 "EndpointPickerConfig's dataLayer.discovery");
  }
  Targets t;
  for (const auto& e : source.endpoints) {
    auto target = parse_endpoint_flag(e, defaults);
    if (!target) return target.error();
    t.from_flags.push_back(std::move(*target));
  }
  if (!source.file.empty()) {
    auto from_file = load_discovery_file(source.file, defaults);
    if (!from_file) return from_file.error();
    t.from_file = std::move(*from_file);
  }
  if (auto r = check_targets(t.merged(t.from_file)); !r) return r.error();
  return t;
}

// The EndpointPickerConfig from --config-file or --config-text (empty: llm-d's defaults).
Result<sched::SchedulerPlan> load_plan(const RuntimeOptions& o, const Clock& clock) {
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

DataLayerOptions data_layer_options(const RuntimeOptions& o, const RuntimeTimes& t) {
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

http::ServerOptions admin_server_options(const RuntimeOptions& o, std::string server_header) {
  http::ServerOptions s;
  s.host = o.admin_host;
  s.port = o.admin_port;
  s.threads = 1;
  s.server_header = std::move(server_header);
  return s;
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

}  // namespace

void add_runtime_flags(CLI::App& app, RuntimeOptions& o) {
  app.add_option("--admin-host", o.admin_host, "Address of the admin endpoints")->capture_default_str();
  app.add_option("--admin-port", o.admin_port, "Port of /health, /ready, /metrics, /debug/endpoints")
      ->capture_default_str();
  app.add_option(
      "--endpoint", o.endpoints,
      "Model server host:port[,key=value...] (repeatable); keys name, namespace, engine, interval, "
      "metrics-path, anything else is a label");
  app.add_option("--discovery-file", o.discovery_file,
                 "YAML or JSON endpoint list, reloaded when it changes (without it or --endpoint: the "
                 "EndpointPickerConfig's dataLayer.discovery file, if any)");
  app.add_option("--discovery-poll-interval", o.discovery_poll, "How often the discovery file is checked")
      ->capture_default_str();
  app.add_option("--namespace", o.ns, "Namespace part of endpoint ids")->capture_default_str();
  app.add_option("--config-file", o.config_file,
                 "EndpointPickerConfig YAML (default: llm-d's default config)");
  app.add_option("--config-text", o.config_text, "EndpointPickerConfig as text");
  app.add_option("--refresh-metrics-interval", o.refresh_metrics_interval, "Default /metrics scrape period")
      ->capture_default_str();
  app.add_option("--metrics-staleness-threshold", o.staleness,
                 "An endpoint without a good scrape for this long stops receiving requests")
      ->capture_default_str();
  app.add_option("--scrape-timeout", o.scrape_timeout, "Timeout of one scrape")->capture_default_str();
  app.add_option("--models-refresh-interval", o.models_interval,
                 "Period of GET /v1/models per endpoint (0: never)")
      ->capture_default_str();
  app.add_option("--pool-name", o.pool_name, "`name` label of the pool gauges")->capture_default_str();
  app.add_option("--scrape-tick", o.scrape_tick,
                 "Scrapes run on one loop that wakes once per tick and reads every answer that has "
                 "arrived (0: wake for each answer)")
      ->capture_default_str();
  app.add_flag("--scrape-by-name,!--no-scrape-by-name", o.scrape_by_name,
               "Ask each /metrics for the needed series only (?name[]=..., honoured by vLLM's and "
               "SGLang's Prometheus clients; others send the whole page). On by default");
  app.add_option("--seed", o.seed, "Seed for tie-breaking and request ids (0: from the clock)");
  // Passive outlier detection, named and defaulted as Envoy's.
  app.add_option("--outlier-consecutive-5xx", o.outlier.consecutive_5xx,
                 "Eject an endpoint after this many 5xx answers or failures in a row (0: never)")
      ->capture_default_str();
  app.add_option("--outlier-consecutive-gateway-failure", o.outlier.consecutive_gateway_failure,
                 "... after this many 502/503/504 answers or failures in a row (0: never)")
      ->capture_default_str();
  app.add_option("--outlier-consecutive-local-origin-failure", o.outlier.consecutive_local_origin_failure,
                 "... after this many connect failures or timeouts in a row (0: never)")
      ->capture_default_str();
  app.add_option("--outlier-base-ejection-time", o.outlier_base_ejection_time,
                 "An ejection lasts this times the endpoint's ejection count")
      ->capture_default_str();
  app.add_option("--outlier-max-ejection-time", o.outlier_max_ejection_time, "Longest ejection")
      ->capture_default_str();
  app.add_option("--outlier-max-ejection-percent", o.outlier.max_ejection_percent,
                 "Most endpoints ejected at once, in percent (one may always be)")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  app.add_option("--outlier-interval", o.outlier_interval,
                 "Each interval an endpoint stays admitted takes one off its ejection count")
      ->capture_default_str();
}

Result<void> parse_duration_flags(std::initializer_list<DurationFlag> flags) {
  for (const auto& f : flags) {
    auto d = config::parse_duration(*f.text);
    if (!d) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("{}: \"{}\" is not a duration such as 50ms or 2s", f.flag, *f.text));
    }
    *f.out = *d;
  }
  return {};
}

// Members are destroyed in reverse order: the watcher and the admin server before the loop and what
// they read, the loop before the data layer whose scrapes ran on it.
struct Runtime::State {
  State(const Clock& c, const RuntimeOptions& o, const RuntimeTimes& t, const DiscoverySource& source,
        DiscoveryDefaults d, Targets initial, unsigned workers)
      : clock(c),
        discovery_file(source.watch ? source.file : std::string()),
        defaults(std::move(d)),
        discovery_poll(ms(t.discovery_poll)),
        targets(std::move(initial)),
        data(store, c, data_layer_options(o, t)),
        metrics(c, o.pool_name, store, workers),
        scrape_loop(std::chrono::duration_cast<std::chrono::microseconds>(t.scrape_tick)) {}

  const Clock& clock;
  const std::string discovery_file;  // watched for changes; empty: none, or read once at start-up
  const DiscoveryDefaults defaults;
  const std::chrono::milliseconds discovery_poll;
  const Targets targets;
  sched::EndpointStore store;
  DataLayer data;
  EppMetrics metrics;
  std::unique_ptr<sched::Scheduler> scheduler;
  // Scrapes get their own loop, off the request path, that reads the answers of a tick together.
  http::TickLoop scrape_loop;
  std::unique_ptr<http::Server> admin;
  std::shared_ptr<DiscoveryWatcher> watcher;  // null without a watched discovery file
  bool started = false;
  bool stopped = false;
};

Result<std::unique_ptr<Runtime>> Runtime::create(const RuntimeOptions& o, const Clock& clock,
                                                 unsigned workers, std::string server_header) {
  auto times = parse_times(o);
  if (!times) return times.error();
  const RuntimeTimes& t = *times;
  auto plan = load_plan(o, clock);
  if (!plan) return plan.error();
  const DiscoverySource source = discovery_source(o, plan->data_plane);
  auto defaults = discovery_defaults(o, t, plan->data_plane);
  if (!defaults) return defaults.error();
  auto targets = load_targets(source, *defaults);
  if (!targets) return targets.error();

  auto s = std::make_unique<State>(clock, o, t, source, std::move(*defaults), std::move(*targets), workers);
  s->metrics.bind_plan(*plan);
  s->metrics.set_poll_error_source(
      [&data = s->data] { return static_cast<double>(data.stats().scrape_errors); });
  s->scheduler = std::make_unique<sched::Scheduler>(std::move(*plan), s->store, clock, &s->metrics);
  if (auto r = export_outlier_counters(s->metrics.registry(), s->data); !r) return r.error();
  s->data.attach({s->scrape_loop.executor()});

  http::Router admin_routes;
  add_admin_routes(admin_routes, AdminContext{&s->data, &s->metrics, &s->store, &s->clock});
  s->admin = std::make_unique<http::Server>(admin_server_options(o, std::move(server_header)),
                                            std::move(admin_routes));
  return std::unique_ptr<Runtime>(new Runtime(std::move(s)));
}

Runtime::Runtime(std::unique_ptr<State> state) : state_(std::move(state)) {}

Runtime::~Runtime() { stop(); }

Result<void> Runtime::start() {
  State& s = *state_;
  if (s.started) return make_error(ErrorCode::kInternal, "runtime already started");
  s.started = true;
  boost::asio::co_spawn(s.scrape_loop.executor(), trim_loop(), boost::asio::detached);
  s.scrape_loop.start();
  if (auto r = s.data.apply(s.targets.merged(s.targets.from_file)); !r) return r;
  if (!s.discovery_file.empty()) {
    // Re-reads the file when it changes, on the scrape loop: its reads and parses stay off request paths.
    s.watcher = std::make_shared<DiscoveryWatcher>(
        s.scrape_loop.executor(), s.discovery_file, s.defaults, s.discovery_poll,
        [&data = s.data, &targets = s.targets](std::vector<EndpointTarget> file) {
          if (auto r = data.apply(targets.merged(std::move(file))); !r) {
            log::error("discovery update rejected", log::kv("error", r.error().message));
          }
        });
    (void)s.watcher->load_initial();  // records the file's identity; its content was applied above
    s.watcher->start();
  }
  return s.admin->start();
}

void Runtime::stop() {
  State& s = *state_;
  if (s.stopped) return;
  s.stopped = true;
  if (s.watcher) s.watcher->stop();
  s.data.stop();
  s.scrape_loop.stop();
  s.admin->drain();
  s.admin->wait();
}

sched::Scheduler& Runtime::scheduler() { return *state_->scheduler; }
sched::EndpointStore& Runtime::store() { return state_->store; }
datalayer::DataLayer& Runtime::data() { return state_->data; }
EppMetrics& Runtime::metrics() { return state_->metrics; }
const Clock& Runtime::clock() const { return state_->clock; }
uint16_t Runtime::admin_port() const { return state_->admin->port(); }

size_t Runtime::initial_endpoints() const {
  return state_->targets.from_flags.size() + state_->targets.from_file.size();
}

}  // namespace llmd::epp
