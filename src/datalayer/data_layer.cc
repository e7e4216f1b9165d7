#include "datalayer/data_layer.h"

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "common/host_port.h"
#include "datalayer/engine_metrics.h"
#include "http/client.h"
#include "http/polled_get.h"
#include "json/json.h"
#include "log/log.h"
#include "metrics/parser.h"
#include "sched/endpoint_state.h"
#include "sched/snapshot_slot.h"

namespace llmd::datalayer {

namespace asio = boost::asio;

const std::vector<std::string>* ModelIndex::restrict_to(std::string_view model) const {
  static const std::vector<std::string> kNobody;
  // An endpoint whose list is unknown may serve anything, so an incomplete index restricts nothing.
  if (!complete) return nullptr;
  auto it = servers.find(std::string(model));
  if (it == servers.end()) return &kNobody;
  if (it->second.size() >= ready_endpoints) return nullptr;
  return &it->second;
}

namespace {

// One event loop's share of the scraping.
struct Entry;
struct Worker {
  Worker(asio::any_io_executor ex, const http::ClientOptions& o) : executor(ex), client(ex, o), timer(ex) {}
  asio::any_io_executor executor;
  http::Client client;  // /v1/models fetches and name resolution; scrapes use http::PolledGet
  metrics::Page page;
  json::Parser json_parser;
  size_t load = 0;  // endpoints assigned; under Core::mu

  // Loop only: the scraped endpoints, and the timer of the next pass over them.
  std::vector<std::shared_ptr<Entry>> scraped;
  asio::steady_timer timer;
  std::atomic<bool> stopped{false};
};

struct ModelList {
  std::vector<std::string> ids;
  std::vector<std::string> objects;  // each model object as JSON text, parallel to ids
};

struct Entry {
  Entry(EndpointTarget t, std::shared_ptr<Worker> w)
      : target(std::move(t)), upstream{target.spec.address, target.spec.port}, worker(std::move(w)) {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(upstream.host, ec);
    named = static_cast<bool>(ec);
    if (!named) peers.emplace_back(address, upstream.port);
  }

  const EndpointTarget target;
  const http::Upstream upstream;
  const std::shared_ptr<Worker> worker;
  std::atomic<bool> stopped{false};
  std::atomic<bool> in_store{false};  // written under Core::mu

  // Outlier detection, under Core::mu.
  bool ejected = false;
  Nanos ejected_until{0};
  Nanos admitted_at{0};  // when it last returned from an ejection (decays `ejections`)
  uint32_t ejections = 0;
  std::string last_ejection;

  std::atomic<int64_t> last_success_ns{0};
  std::atomic<int64_t> last_attempt_ns{0};
  std::atomic<uint64_t> scrapes{0};
  std::atomic<uint64_t> failures{0};
  // Written by the entry's loop alone (SnapshotSlot's single writer), read by status() and rebuilds.
  sched::SnapshotSlot<const std::string> last_error;
  sched::SnapshotSlot<const std::string> missing;
  sched::SnapshotSlot<const sched::EndpointMetrics> last_metrics;
  sched::SnapshotSlot<const ModelList> models;

  // Worker loop only.
  sched::EndpointMetrics published;
  Nanos next_models_fetch{0};
  bool fetching_models = false;
  // The scrape connection, made once the address is known (a name is resolved first); it keeps the
  // request bytes and its buffers from scrape to scrape, so a warm scrape allocates nothing.
  std::unique_ptr<http::PolledGet> conn;
  std::vector<asio::ip::tcp::endpoint> peers;  // empty until a name is resolved
  bool named = false;                          // the address is a host name
  bool resolving = false;
  bool in_flight = false;
  Nanos due{0};      // next scrape (Clock::now() time)
  Nanos wake_at{0};  // when this entry next needs a pass
};

using EntryPtr = std::shared_ptr<Entry>;

// Consecutive failures of one endpoint incarnation (Endpoint::uid), updated by request threads.
struct OutlierCounts {
  std::atomic<uint32_t> any_5xx{0};
  std::atomic<uint32_t> gateway{0};
  std::atomic<uint32_t> local_origin{0};
  std::atomic<bool> ejecting{false};  // a thread is ejecting it: the others need not
};

// As the store spells Endpoint::host_port.
std::string host_port_of(const sched::EndpointSpec& s) { return host_port(s.address, s.port); }

void set_text(sched::SnapshotSlot<const std::string>& slot, std::string_view text) {
  auto cur = slot.load();
  if (cur ? *cur == text : text.empty()) return;
  slot.store(text.empty() ? nullptr : std::make_shared<const std::string>(text));
}

}  // namespace

struct DataLayer::Core : std::enable_shared_from_this<Core> {
  Core(sched::EndpointStore& s, const Clock& c, DataLayerOptions o)
      : store(s), clock(c), options(o), models(std::make_shared<const ModelIndex>()) {}

  sched::EndpointStore& store;
  const Clock& clock;
  const DataLayerOptions options;
  std::vector<std::shared_ptr<Worker>> workers;

  mutable std::mutex mu;  // control plane: membership and store transitions
  std::map<std::string, EntryPtr, std::less<>> entries;
  bool stopped = false;

  sched::SnapshotSlot<const ModelIndex> models;  // written under mu
  std::atomic<uint64_t> scrapes{0};
  std::atomic<uint64_t> scrape_errors{0};
  std::atomic<uint64_t> publishes{0};
  std::atomic<uint64_t> models_fetches{0};
  std::array<std::atomic<uint64_t>, kEjectionReasons> ejections{};
  std::atomic<uint64_t> ejections_skipped{0};
  std::atomic<uint64_t> returns{0};
  sched::EndpointStateMap<OutlierCounts> outlier_counts;  // by Endpoint::uid

  // Outlier detection: counts one answer and ejects when a threshold is crossed.
  void record(const sched::Endpoint& endpoint, bool failure_5xx, bool gateway_failure, bool local_origin);
  void eject(const std::string& id, EjectionReason reason);  // takes mu
  void readmit(const EntryPtr& e);                           // takes mu

  void start_entry(const EntryPtr& e);  // under mu
  void stop_entry(const EntryPtr& e);   // under mu
  void rebuild_models();                // under mu
  void leave_store(Entry& e);           // under mu: out of scheduling (stale or ejected)
  void on_success(const EntryPtr& e, sched::EndpointMetrics m, const ExtractReport& report);
  void on_failure(const EntryPtr& e, std::string_view why);
  // The scrapes of one worker: passes over its endpoints, each a few non-blocking calls, timed by
  // one timer for the next thing due.
  http::Awaitable<void> pass_loop(std::shared_ptr<Worker> w);
  Nanos pass(Worker& w, Nanos now);
  void step(const EntryPtr& e, Nanos now);
  void take_answer(const EntryPtr& e);
  void count_attempt(Entry& e);
  http::Awaitable<void> resolve(EntryPtr e);
  http::Awaitable<void> fetch_models(EntryPtr e);
};

void DataLayer::Core::record(const sched::Endpoint& endpoint, bool failure_5xx, bool gateway_failure,
                             bool local_origin) {
  const OutlierOptions& o = options.outlier;
  auto counts = outlier_counts.get_or_create(endpoint.uid);
  if (!failure_5xx) {
    // Any other answer ends every run (Envoy: a success resets the consecutive counters).
    counts->any_5xx.store(0, std::memory_order_relaxed);
    counts->gateway.store(0, std::memory_order_relaxed);
    counts->local_origin.store(0, std::memory_order_relaxed);
    return;
  }
  auto crossed = [](std::atomic<uint32_t>& c, uint32_t threshold, bool counts_here) {
    if (!counts_here) {
      c.store(0, std::memory_order_relaxed);
      return false;
    }
    return threshold != 0 && c.fetch_add(1, std::memory_order_relaxed) + 1 >= threshold;
  };
  const bool by_local = crossed(counts->local_origin, o.consecutive_local_origin_failure, local_origin);
  const bool by_gateway = crossed(counts->gateway, o.consecutive_gateway_failure, gateway_failure);
  const bool by_5xx = crossed(counts->any_5xx, o.consecutive_5xx, true);
  if (!by_local && !by_gateway && !by_5xx) return;
  if (counts->ejecting.exchange(true, std::memory_order_acq_rel)) return;
  eject(endpoint.id, by_local     ? EjectionReason::kConsecutiveLocalOriginFailure
                     : by_gateway ? EjectionReason::kConsecutiveGatewayFailure
                                  : EjectionReason::kConsecutive5xx);
  // A skipped ejection leaves the endpoint in: its counts start over.
  counts->any_5xx.store(0, std::memory_order_relaxed);
  counts->gateway.store(0, std::memory_order_relaxed);
  counts->local_origin.store(0, std::memory_order_relaxed);
  counts->ejecting.store(false, std::memory_order_release);
}

void DataLayer::Core::eject(const std::string& id, EjectionReason reason) {
  const OutlierOptions& o = options.outlier;
  std::lock_guard lock(mu);
  if (stopped) return;
  auto it = entries.find(id);
  if (it == entries.end()) return;
  const EntryPtr& e = it->second;
  if (e->ejected || !e->in_store) return;
  size_t ejected = 0;
  for (const auto& [other_id, other] : entries) ejected += other->ejected ? 1 : 0;
  const size_t limit = std::max<size_t>(1, entries.size() * o.max_ejection_percent / 100);
  if (ejected >= limit) {
    ejections_skipped.fetch_add(1, std::memory_order_relaxed);
    log::warn("outlier not ejected: max_ejection_percent reached", log::kv("endpoint", id),
              log::kv("reason", to_string(reason)), log::kv("ejected", ejected));
    return;
  }
  const Nanos now = clock.now();
  // Time spent admitted since the last return pays ejections back, one per interval.
  if (e->ejections > 0 && o.interval.count() > 0 && e->admitted_at.count() > 0) {
    const auto paid =
        static_cast<uint32_t>(std::min<int64_t>((now - e->admitted_at) / o.interval, e->ejections));
    e->ejections -= paid;
  }
  ++e->ejections;
  const Nanos time = std::min(o.base_ejection_time * e->ejections, o.max_ejection_time);
  e->ejected = true;
  e->ejected_until = now + time;
  e->last_ejection = std::string(to_string(reason));
  leave_store(*e);
  outlier_counts.retain_only(*store.snapshot());
  ejections[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  log::warn("endpoint ejected by outlier detection", log::kv("endpoint", id),
            log::kv("reason", to_string(reason)), log::kv("ejection_ms", time.count() / 1'000'000),
            log::kv("ejections", e->ejections));
  // The entry's loop readmits it when the time is up.
  auto timer = std::make_shared<asio::steady_timer>(e->worker->executor, time);
  timer->async_wait(
      [self = shared_from_this(), e = e, timer](const boost::system::error_code&) { self->readmit(e); });
}

void DataLayer::Core::readmit(const EntryPtr& e) {
  std::lock_guard lock(mu);
  if (!e->ejected) return;
  e->ejected = false;
  e->admitted_at = clock.now();
  returns.fetch_add(1, std::memory_order_relaxed);
  log::info("endpoint returns after ejection", log::kv("endpoint", e->target.spec.id));
  if (stopped || e->stopped) return;
  // A scraped endpoint rejoins with its next good scrape, as a new one does; an unscraped one at once.
  if (e->target.scrape_interval.count() == 0 && store.upsert(e->target.spec)) {
    e->in_store = true;
    rebuild_models();
  }
}

void DataLayer::Core::start_entry(const EntryPtr& e) {
  ++e->worker->load;
  entries[e->target.spec.id] = e;
  if (e->target.scrape_interval.count() == 0) {
    if (store.upsert(e->target.spec)) e->in_store = true;
    return;
  }
  asio::post(e->worker->executor, [e] {
    Worker& w = *e->worker;
    if (e->stopped || w.stopped) return;
    w.scraped.push_back(e);  // due at once: the next pass, which this brings forward, scrapes it
    w.timer.cancel();
  });
}

void DataLayer::Core::stop_entry(const EntryPtr& e) {
  --e->worker->load;
  e->stopped = true;
  if (e->in_store.exchange(false)) store.remove(e->target.spec.id);
  asio::post(e->worker->executor, [e] { e->worker->timer.cancel(); });  // a pass drops it
}

void DataLayer::Core::leave_store(Entry& e) {
  e.in_store = false;
  store.remove(e.target.spec.id);
  rebuild_models();
}

void DataLayer::Core::rebuild_models() {
  auto idx = std::make_shared<ModelIndex>();
  idx->complete = true;
  std::set<std::string, std::less<>> seen;
  for (const auto& [id, e] : entries) {
    if (!e->in_store) continue;
    ++idx->ready_endpoints;
    auto list = e->models.load();
    if (!list) {
      idx->complete = false;
      continue;
    }
    const std::string host_port = host_port_of(e->target.spec);
    for (size_t i = 0; i < list->ids.size(); ++i) {
      idx->servers[list->ids[i]].push_back(host_port);
      if (seen.insert(list->ids[i]).second) idx->objects.push_back(list->objects[i]);
    }
  }
  if (idx->ready_endpoints == 0) idx->complete = false;
  models.store(std::move(idx));
}

void DataLayer::Core::on_success(const EntryPtr& e, sched::EndpointMetrics m, const ExtractReport& report) {
  const Nanos now = m.update_time;
  e->last_success_ns.store(now.count(), std::memory_order_relaxed);
  set_text(e->last_error, {});
  const std::string missing = report.complete() ? std::string() : report.missing();
  if (!missing.empty() && !e->missing.load()) {
    log::warn("endpoint metrics incomplete; missing values count as zero",
              log::kv("endpoint", e->target.spec.id), log::kv("missing", missing));
  }
  set_text(e->missing, missing);

  const bool changed = !same_values(m, e->published);
  const bool aged = now - e->published.update_time >= options.republish_age;
  if (e->in_store.load() && !changed && !aged) return;
  auto shared = std::make_shared<const sched::EndpointMetrics>(m);
  e->last_metrics.store(shared);
  std::lock_guard lock(mu);
  if (e->stopped || stopped) return;
  if (!e->in_store) {
    if (e->ejected) return;  // outlier detection holds it out until readmit()
    if (auto r = store.upsert(e->target.spec); !r) {
      log::error("endpoint rejected by the store", log::kv("endpoint", e->target.spec.id),
                 log::kv("error", r.error().message));
      return;
    }
    e->in_store = true;
    log::info("endpoint ready", log::kv("endpoint", e->target.spec.id),
              log::kv("address", e->upstream.key()));
    store.update_metrics(e->target.spec.id, std::move(m));
    rebuild_models();
  } else {
    store.update_metrics(e->target.spec.id, std::move(m));
  }
  e->published = *shared;
  publishes.fetch_add(1, std::memory_order_relaxed);
}

void DataLayer::Core::on_failure(const EntryPtr& e, std::string_view why) {
  e->failures.fetch_add(1, std::memory_order_relaxed);
  scrape_errors.fetch_add(1, std::memory_order_relaxed);
  set_text(e->last_error, why);
  if (!e->in_store.load()) return;
  const Nanos since = clock.now() - Nanos(e->last_success_ns.load(std::memory_order_relaxed));
  if (since < options.staleness_threshold) return;
  std::lock_guard lock(mu);
  if (!e->in_store) return;
  e->published = sched::EndpointMetrics{};
  leave_store(*e);
  log::warn("endpoint stale; removed from scheduling", log::kv("endpoint", e->target.spec.id),
            log::kv("since_ms", since.count() / 1'000'000), log::kv("error", why));
}

namespace {

// After the first scrape, scrapes run on a grid of the interval shared by every endpoint with that
// interval: their requests then go out in one pass and their answers come back for the next, so a
// worker wakes twice per interval for all of its endpoints, not twice per endpoint.
Nanos next_on_grid(Nanos now, Nanos interval) { return (now / interval + 1) * interval; }

}  // namespace

http::Awaitable<void> DataLayer::Core::pass_loop(std::shared_ptr<Worker> w) {
  auto self = shared_from_this();  // a pass may run while the DataLayer is being stopped elsewhere
  // Entries and their connections go with this loop, however it ends (the io_context may be
  // destroyed with the loop suspended); entries also hold their worker, so this breaks that cycle.
  struct Release {
    Worker& w;
    ~Release() {
      for (auto& e : w.scraped) e->conn.reset();
      w.scraped.clear();
    }
  } release{*w};
  while (!w->stopped.load()) {
    const Nanos now = clock.now();
    const Nanos next = pass(*w, now);
    // Relative to the injected clock; asio saturates a far-off expiry (Nanos::max) instead of overflowing.
    w->timer.expires_after(next - now);
    co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

Nanos DataLayer::Core::pass(Worker& w, Nanos now) {
  auto next = Nanos::max();
  for (size_t i = 0; i < w.scraped.size();) {
    if (w.scraped[i]->stopped) {
      w.scraped[i]->conn.reset();
      w.scraped[i] = std::move(w.scraped.back());
      w.scraped.pop_back();
      continue;
    }
    step(w.scraped[i], now);
    next = std::min(next, w.scraped[i]->wake_at);
    ++i;
  }
  return next;
}

void DataLayer::Core::count_attempt(Entry& e) {
  e.last_attempt_ns.store(clock.now().count(), std::memory_order_relaxed);
  e.scrapes.fetch_add(1, std::memory_order_relaxed);
  scrapes.fetch_add(1, std::memory_order_relaxed);
}

void DataLayer::Core::step(const EntryPtr& e, Nanos now) {
  using Step = http::PolledGet::Step;
  Entry& en = *e;
  if (!en.in_flight) {
    if (now < en.due) {
      en.wake_at = en.due;
      return;
    }
    if (!en.conn) {
      if (en.peers.empty()) {
        // A host name: resolved off this loop; resolve() brings the next pass forward.
        if (!en.resolving) {
          en.resolving = true;
          asio::co_spawn(en.worker->executor, resolve(e), asio::detached);
        }
        en.wake_at = Nanos::max();
        return;
      }
      std::string path = en.target.metrics_path;
      if (options.scrape_by_name) {
        path.push_back(path.find('?') == std::string::npos ? '?' : '&');
        path.append(scrape_query(en.target.engine));
      }
      http::PolledGetOptions po;
      po.timeout = options.scrape_timeout;
      po.max_body_bytes = options.max_metrics_bytes;
      po.accept = "text/plain";
      en.conn = std::make_unique<http::PolledGet>(en.peers, host_port_of(en.target.spec), path, po);
    }
    count_attempt(en);
    if (en.conn->start(now) == Step::kPending) {
      // Its answer cannot be in yet: it is looked for in a later pass.
      en.in_flight = true;
      en.wake_at = now + options.answer_poll;
      return;
    }
  } else {
    const Step s = en.conn->poll(now);
    if (s == Step::kPending) {
      en.wake_at = now + options.answer_poll;
      return;
    }
    en.in_flight = false;
    if (s == Step::kDone) {
      take_answer(e);
    }
  }
  if (!en.conn->error().empty()) {
    on_failure(e, en.conn->error());
    // A name may have moved: it is resolved again for the next scrape.
    if (en.named) {
      en.conn.reset();
      en.peers.clear();
    }
  }
  en.due = next_on_grid(now, en.target.scrape_interval);
  en.wake_at = en.due;
  if (options.models_interval.count() > 0 && !en.fetching_models && en.in_store.load() &&
      clock.now() >= en.next_models_fetch) {
    en.next_models_fetch = clock.now() + options.models_interval;
    en.fetching_models = true;
    asio::co_spawn(en.worker->executor, fetch_models(e), asio::detached);
  }
}

void DataLayer::Core::take_answer(const EntryPtr& e) {
  Worker& w = *e->worker;
  const http::PolledGet& conn = *e->conn;
  if (conn.status() != 200) {
    on_failure(e, "metrics: HTTP " + std::to_string(conn.status()));
    return;
  }
  metrics::ParseOptions po;
  po.on_error = metrics::OnError::kSkipLine;
  po.filter = &scrape_filter(e->target.engine);
  if (auto r = metrics::parse(conn.body(), w.page, po); !r) {
    on_failure(e, "metrics: " + r.error().message);
    return;
  }
  ExtractReport report;
  sched::EndpointMetrics m = extract_metrics(e->target.engine, w.page, clock.now(), &report);
  on_success(e, std::move(m), report);
}

http::Awaitable<void> DataLayer::Core::resolve(EntryPtr e) {
  auto self = shared_from_this();
  Worker& w = *e->worker;
  asio::ip::tcp::resolver resolver(w.executor);
  auto [ec, results] = co_await resolver.async_resolve(e->upstream.host, std::to_string(e->upstream.port),
                                                       asio::as_tuple(asio::use_awaitable));
  e->resolving = false;
  if (e->stopped || w.stopped) co_return;
  if (ec || results.empty()) {
    count_attempt(*e);
    on_failure(e, "resolve " + e->upstream.host + ": " + (ec ? ec.message() : std::string("no address")));
    e->due = next_on_grid(clock.now(), e->target.scrape_interval);
  } else {
    for (const auto& r : results) e->peers.push_back(r.endpoint());
  }
  w.timer.cancel();  // a pass now: it scrapes, or schedules the retry
}

http::Awaitable<void> DataLayer::Core::fetch_models(EntryPtr e) {
  auto self = shared_from_this();
  struct Done {
    Entry& e;
    ~Done() { e.fetching_models = false; }
  } done{*e};
  Worker& w = *e->worker;
  http::Request req{http::Verb::get, "/v1/models", 11};
  req.set(http::Field::accept, "application/json");
  models_fetches.fetch_add(1, std::memory_order_relaxed);
  auto res = co_await w.client.request(e->upstream, req);
  if (e->stopped) co_return;
  std::shared_ptr<const ModelList> list;
  if (res && res->result() == http::Status::ok) {
    if (auto v = w.json_parser.parse(res->body()); v && v->is_object()) {
      auto out = std::make_shared<ModelList>();
      if (const auto* data = v->get_object().if_contains("data"); data != nullptr && data->is_array()) {
        for (const auto& m : data->get_array()) {
          const auto* id = m.is_object() ? m.get_object().if_contains("id") : nullptr;
          if (id == nullptr || !id->is_string()) continue;
          out->ids.emplace_back(id->get_string());
          out->objects.push_back(boost::json::serialize(m));
        }
        list = std::move(out);
      }
    }
  }
  if (!list) log::debug("endpoint models unknown", log::kv("endpoint", e->target.spec.id));
  auto cur = e->models.load();
  const bool same = (cur == nullptr && list == nullptr) ||
                    (cur && list && cur->ids == list->ids && cur->objects == list->objects);
  if (same) co_return;
  e->models.store(list);
  std::lock_guard lock(mu);
  if (!stopped) rebuild_models();
}

DataLayer::DataLayer(sched::EndpointStore& store, const Clock& clock, DataLayerOptions options)
    : core_(std::make_shared<Core>(store, clock, options)) {}

void DataLayer::attach(std::vector<asio::any_io_executor> executors) {
  http::ClientOptions co;
  co.connect_timeout = core_->options.scrape_timeout;
  co.first_byte_timeout = core_->options.scrape_timeout;
  co.idle_timeout = core_->options.scrape_timeout;
  co.max_idle_per_upstream = 2;
  co.max_response_body_bytes = core_->options.max_metrics_bytes;
  std::lock_guard lock(core_->mu);
  for (auto& ex : executors) {
    auto w = std::make_shared<Worker>(ex, co);
    core_->workers.push_back(w);
    asio::co_spawn(ex, core_->pass_loop(w), asio::detached);
  }
}

DataLayer::~DataLayer() { stop(); }

Result<void> DataLayer::apply(std::vector<EndpointTarget> targets) {
  if (auto r = check_targets(targets); !r) return r;
  Core& c = *core_;
  std::lock_guard lock(c.mu);
  if (c.stopped) return {};
  if (c.workers.empty()) return make_error(ErrorCode::kInternal, "data layer: apply() before attach()");
  std::map<std::string, EndpointTarget*, std::less<>> wanted;
  for (auto& t : targets) wanted[t.spec.id] = &t;
  std::vector<EntryPtr> gone;
  for (const auto& [id, e] : c.entries) {
    auto it = wanted.find(id);
    if (it == wanted.end() || !(*it->second == e->target)) gone.push_back(e);
  }
  for (const auto& e : gone) {
    c.stop_entry(e);
    c.entries.erase(e->target.spec.id);
    log::info("endpoint removed", log::kv("endpoint", e->target.spec.id));
  }
  for (auto& [id, t] : wanted) {
    if (c.entries.count(id) != 0) continue;
    auto w = *std::min_element(c.workers.begin(), c.workers.end(),
                               [](const auto& a, const auto& b) { return a->load < b->load; });
    auto e = std::make_shared<Entry>(std::move(*t), w);
    log::info("endpoint added", log::kv("endpoint", e->target.spec.id), log::kv("address", e->upstream.key()),
              log::kv("engine", to_string(e->target.engine)));
    c.start_entry(e);
  }
  c.rebuild_models();
  return {};
}

void DataLayer::stop() {
  Core& c = *core_;
  std::lock_guard lock(c.mu);
  if (c.stopped) return;
  c.stopped = true;
  for (const auto& [id, e] : c.entries) c.stop_entry(e);
  for (const auto& w : c.workers) {
    w->stopped = true;
    asio::post(w->executor, [w] { w->timer.cancel(); });
  }
  c.entries.clear();
  c.workers.clear();
  c.rebuild_models();
}

std::vector<EndpointStatus> DataLayer::status() const {
  std::vector<EntryPtr> entries;
  {
    std::lock_guard lock(core_->mu);
    for (const auto& [id, e] : core_->entries) entries.push_back(e);
  }
  std::vector<EndpointStatus> out;
  out.reserve(entries.size());
  for (const auto& e : entries) {
    EndpointStatus s;
    s.target = e->target;
    s.ready = e->in_store.load();
    s.last_success = Nanos(e->last_success_ns.load());
    s.last_attempt = Nanos(e->last_attempt_ns.load());
    s.scrapes = e->scrapes.load();
    s.failures = e->failures.load();
    if (auto err = e->last_error.load()) s.last_error = *err;
    if (auto m = e->missing.load()) s.missing_metrics = *m;
    s.metrics = e->last_metrics.load();
    if (auto list = e->models.load()) s.models = std::make_shared<const std::vector<std::string>>(list->ids);
    {
      std::lock_guard lock(core_->mu);
      s.ejected = e->ejected;
      s.ejected_until = e->ejected_until;
      s.ejections = e->ejections;
      s.last_ejection = e->last_ejection;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::shared_ptr<const ModelIndex> DataLayer::models() const { return core_->models.load(); }

void DataLayer::record_response(const sched::Endpoint& endpoint, int status) const {
  const bool failure = status >= 500 && status <= 599;
  const bool gateway = status == 502 || status == 503 || status == 504;
  core_->record(endpoint, failure, gateway, false);
}

void DataLayer::record_local_failure(const sched::Endpoint& endpoint) const {
  // Envoy maps local-origin failures onto 5xx and gateway failures as well, unless it splits them.
  core_->record(endpoint, true, true, true);
}

std::string_view to_string(EjectionReason r) {
  switch (r) {
    case EjectionReason::kConsecutive5xx:
      return "consecutive_5xx";
    case EjectionReason::kConsecutiveGatewayFailure:
      return "consecutive_gateway_failure";
    case EjectionReason::kConsecutiveLocalOriginFailure:
      return "consecutive_local_origin_failure";
  }
  return "unknown";
}

DataLayerStats DataLayer::stats() const {
  DataLayerStats s;
  s.scrapes = core_->scrapes.load();
  s.scrape_errors = core_->scrape_errors.load();
  s.metric_publishes = core_->publishes.load();
  s.models_fetches = core_->models_fetches.load();
  for (size_t i = 0; i < kEjectionReasons; ++i) s.ejections[i] = core_->ejections[i].load();
  s.ejections_skipped = core_->ejections_skipped.load();
  s.returns = core_->returns.load();
  return s;
}

}  // namespace llmd::datalayer
