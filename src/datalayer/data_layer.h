#pragma once
// The router's data layer: keeps the scheduler's EndpointStore in step with discovery and with each
// endpoint's health, scraping /metrics (and, less often, /v1/models) of every endpoint.
//
// Scrapes are spread over the given event loops (`llmd router` gives one http::TickLoop, off the
// request path). Each loop makes passes over its endpoints, timed by one timer for whatever is due
// next: a pass sends the requests whose time has come and reads the answers of earlier ones, each
// endpoint through its own http::PolledGet (non-blocking calls on a kept connection). There is no
// thread, coroutine or timer per endpoint, and a warm scrape that publishes nothing new allocates nothing:
// the request bytes, the answer buffer and the loop's metrics page are reused. /v1/models fetches, far rarer,
// use the loop's http::Client.
//
// Readiness: an endpoint joins the store (becomes schedulable) after its first good scrape and leaves
// it when no scrape has succeeded for `staleness_threshold`, as llm-d removes non-ready pods; its
// metrics' update_time says how fresh they are. Endpoints with a zero scrape interval are not scraped
// and are always ready.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "datalayer/discovery.h"
#include "sched/endpoint.h"

namespace llmd::datalayer {

// Passive outlier detection, as Envoy's: endpoints whose inference answers fail several times in a
// row are ejected from scheduling for an ejection time that grows with each ejection, then return.
// The data plane reports each answer (record_response, record_local_failure). Defaults are Envoy's.
struct OutlierOptions {
  // Consecutive 5xx answers, local-origin failures included (Envoy's consecutive_5xx); 0 disables.
  uint32_t consecutive_5xx = 5;
  // Consecutive 502, 503 or 504 answers and local-origin failures (consecutive_gateway_failure).
  uint32_t consecutive_gateway_failure = 5;
  // Consecutive connect failures and timeouts (consecutive_local_origin_failure); 0 disables.
  uint32_t consecutive_local_origin_failure = 5;
  // Ejection time = base × the endpoint's ejections so far, at most max.
  Nanos base_ejection_time = std::chrono::seconds(30);
  Nanos max_ejection_time = std::chrono::seconds(300);
  // At most this share of the endpoints is ejected at once; one may always be.
  uint32_t max_ejection_percent = 10;
  // Each interval an endpoint spends admitted takes one off its ejection count.
  Nanos interval = std::chrono::seconds(10);
};

enum class EjectionReason { kConsecutive5xx, kConsecutiveGatewayFailure, kConsecutiveLocalOriginFailure };
std::string_view to_string(EjectionReason r);
inline constexpr size_t kEjectionReasons = 3;

struct DataLayerOptions {
  // An endpoint whose last good scrape is older than this leaves the scheduling set.
  Nanos staleness_threshold = std::chrono::seconds(2);
  // Connect, first byte and body gaps of one scrape.
  std::chrono::milliseconds scrape_timeout{1000};
  // How soon after a scrape's request its answer is first looked for, and then how often until it
  // has come. On a TickLoop, timers fire on its ticks, so the tick sets this in effect.
  std::chrono::microseconds answer_poll{1000};
  // Period of GET /v1/models per ready endpoint; zero disables it (models stay unknown).
  Nanos models_interval = std::chrono::seconds(5);
  size_t max_metrics_bytes = 8 * 1024 * 1024;
  // Ask for the needed series only (`?name[]=...`, which Prometheus client libraries honour): a
  // vLLM page shrinks from ~30 KB to under 1 KB, and with it the copying and parsing per scrape.
  bool scrape_by_name = true;
  // Unchanged metrics are republished (fresh update_time) at least this often.
  Nanos republish_age = std::chrono::seconds(1);
  OutlierOptions outlier;
};

// The models the ready endpoints serve, as their /v1/models lists say.
struct ModelIndex {
  // Every ready endpoint reported its list; only then can a model be called unknown (404).
  bool complete = false;
  size_t ready_endpoints = 0;
  // Model id → host:port of the ready endpoints serving it.
  std::unordered_map<std::string, std::vector<std::string>> servers;
  // The union of the endpoints' /v1/models objects (JSON text, as each endpoint sent it), first seen
  // wins: what an OpenAI front end lists.
  std::vector<std::string> objects;

  // Null when the index is incomplete or every ready endpoint serves the model (no restriction);
  // otherwise the endpoints serving it (empty: nobody, a 404).
  const std::vector<std::string>* restrict_to(std::string_view model) const;
};

struct EndpointStatus {
  EndpointTarget target;
  bool ready = false;
  Nanos last_success{0};  // Clock::now() of the last good scrape; zero if never
  Nanos last_attempt{0};
  uint64_t scrapes = 0;
  uint64_t failures = 0;
  std::string last_error;
  std::string missing_metrics;                             // core attributes absent from the last good page
  std::shared_ptr<const sched::EndpointMetrics> metrics;   // last extracted; null if never
  std::shared_ptr<const std::vector<std::string>> models;  // null: unknown
  bool ejected = false;       // out of scheduling by outlier detection until ejected_until
  Nanos ejected_until{0};     // Clock::now() time
  uint32_t ejections = 0;     // its ejection count (decays while it stays admitted)
  std::string last_ejection;  // the reason of the latest ejection, empty if never
};

struct DataLayerStats {
  uint64_t scrapes = 0;
  uint64_t scrape_errors = 0;
  uint64_t metric_publishes = 0;  // snapshots published because metrics changed or aged
  uint64_t models_fetches = 0;
  std::array<uint64_t, kEjectionReasons> ejections{};  // by EjectionReason
  uint64_t ejections_skipped = 0;  // thresholds crossed while max_ejection_percent was reached
  uint64_t returns = 0;            // ejected endpoints readmitted
};

class DataLayer {
 public:
  // `store` and `clock` must outlive the DataLayer and any coroutine it started.
  DataLayer(sched::EndpointStore& store, const Clock& clock, DataLayerOptions options = {});
  ~DataLayer();
  DataLayer(const DataLayer&) = delete;
  DataLayer& operator=(const DataLayer&) = delete;

  // Sets the event loops that run the scrapes (at least one), e.g. a TickLoop's. Call
  // once, before apply(). stop() must run before the loops' io_contexts are destroyed.
  void attach(std::vector<boost::asio::any_io_executor> executors);
  // Replaces the endpoint set: new ids start scraping, removed ids stop and leave the store, changed
  // ones restart. Thread-safe. kConfig on duplicate ids (nothing changes then).
  Result<void> apply(std::vector<EndpointTarget> targets);
  // Stops every scraper (asynchronously, on their loops), removes all endpoints from the store and
  // drops this object's references to the loops' clients. Idempotent.
  void stop();

  // Outlier detection input, from request threads; lock-free unless it ejects the endpoint. A
  // response's status (5xx counts as a failure, anything else resets the counts), or a local-origin
  // failure: the endpoint could not be reached, or did not answer in time.
  void record_response(const sched::Endpoint& endpoint, int status) const;
  void record_local_failure(const sched::Endpoint& endpoint) const;

  std::vector<EndpointStatus> status() const;
  std::shared_ptr<const ModelIndex> models() const;
  DataLayerStats stats() const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

}  // namespace llmd::datalayer
