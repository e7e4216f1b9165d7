#include "epp/admin.h"

#include <map>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "http/metrics_endpoint.h"

namespace llmd::epp {

using datalayer::EndpointStatus;

namespace {

double ms_since(const Clock& clock, Nanos t) {
  if (t.count() == 0) return -1;
  return static_cast<double>((clock.now() - t).count()) / 1e6;
}

}  // namespace

std::string debug_endpoints_json(const AdminContext& ctx) {
  // Latest sampled total score of each endpoint, by profile.
  std::map<std::string, boost::json::object> scores;
  boost::json::object samples;
  for (const auto& [profile, sample] : ctx.metrics->scores()) {
    if (!sample) continue;
    samples[profile] = ms_since(*ctx.clock, sample->time);
    for (const auto& [id, score] : sample->scores) scores[id][profile] = score;
  }
  boost::json::array endpoints;
  for (const EndpointStatus& s : ctx.data->status()) {
    boost::json::object e;
    e["id"] = s.target.spec.id;
    e["address"] = s.target.spec.address;
    e["port"] = s.target.spec.port;
    boost::json::object labels;
    for (const auto& [k, v] : s.target.spec.labels) labels[k] = v;
    e["labels"] = std::move(labels);
    e["engine"] = to_string(s.target.engine);
    e["ready"] = s.ready;
    e["scrape_interval_ms"] = static_cast<double>(s.target.scrape_interval.count()) / 1e6;
    e["scrapes"] = s.scrapes;
    e["scrape_failures"] = s.failures;
    e["last_success_age_ms"] = ms_since(*ctx.clock, s.last_success);
    e["last_attempt_age_ms"] = ms_since(*ctx.clock, s.last_attempt);
    e["last_error"] = s.last_error;
    e["missing_metrics"] = s.missing_metrics;
    e["ejected"] = s.ejected;
    e["ejected_for_ms"] =
        s.ejected ? static_cast<double>((s.ejected_until - ctx.clock->now()).count()) / 1e6 : 0.0;
    e["ejections"] = s.ejections;
    e["last_ejection"] = s.last_ejection;
    if (s.metrics) {
      boost::json::object m;
      m["waiting_queue_size"] = s.metrics->waiting_queue_size;
      m["running_requests_size"] = s.metrics->running_requests_size;
      m["kv_cache_usage"] = s.metrics->kv_cache_usage;
      m["cache_block_size"] = s.metrics->cache_block_size;
      m["cache_num_gpu_blocks"] = s.metrics->cache_num_gpu_blocks;
      boost::json::array active(s.metrics->active_models.begin(), s.metrics->active_models.end());
      m["active_models"] = std::move(active);
      m["update_age_ms"] = ms_since(*ctx.clock, s.metrics->update_time);
      e["metrics"] = std::move(m);
    } else {
      e["metrics"] = nullptr;
    }
    if (s.models) {
      e["models"] = boost::json::array(s.models->begin(), s.models->end());
    } else {
      e["models"] = nullptr;
    }
    if (auto it = scores.find(s.target.spec.id); it != scores.end()) {
      e["last_scores"] = std::move(it->second);
    } else {
      e["last_scores"] = boost::json::object();
    }
    endpoints.push_back(std::move(e));
  }
  boost::json::object root;
  root["ready_endpoints"] = ctx.store->snapshot()->endpoints.size();
  root["score_sample_age_ms"] = std::move(samples);
  root["endpoints"] = std::move(endpoints);
  return boost::json::serialize(root);
}

void add_admin_routes(http::Router& router, AdminContext ctx) {
  router.add(
      http::Verb::get, "/health", [](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
        co_await res.send(
            http::json_response(http::Status::ok, R"({"status":"ok"})", req.version(), req.keep_alive()));
      });
  router.add(http::Verb::get, "/ready",
             [ctx](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
               const size_t ready = ctx.store->snapshot()->endpoints.size();
               const std::string body = R"({"ready":)" + std::string(ready > 0 ? "true" : "false") +
                                        R"(,"ready_endpoints":)" + std::to_string(ready) + "}";
               co_await res.send(
                   http::json_response(ready > 0 ? http::Status::ok : http::Status::service_unavailable, body,
                                       req.version(), req.keep_alive()));
             });
  http::mount_metrics(router, [m = ctx.metrics](std::string& out, std::span<const std::string> names) {
    m->expose_to(out, names);
  });
  router.add(http::Verb::get, "/debug/endpoints",
             [ctx](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
               co_await res.send(http::json_response(http::Status::ok, debug_endpoints_json(ctx),
                                                     req.version(), req.keep_alive()));
             });
}

}  // namespace llmd::epp
