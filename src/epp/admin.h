#pragma once
// The router's admin endpoints, served on their own port:
//   GET /health            200 while the process runs
//   GET /ready             200 when at least one endpoint is ready, else 503
//   GET /metrics           Prometheus text (llm_d_epp_* names)
//   GET /debug/endpoints   JSON: every discovered endpoint, its scrape state, metrics, models and last scores

#include <string>

#include "common/clock.h"
#include "datalayer/data_layer.h"
#include "epp/epp_metrics.h"
#include "http/server.h"

namespace llmd::epp {

struct AdminContext {
  const datalayer::DataLayer* data = nullptr;
  const EppMetrics* metrics = nullptr;
  const sched::EndpointStore* store = nullptr;
  const Clock* clock = nullptr;
};

void add_admin_routes(http::Router& router, AdminContext ctx);

// The /debug/endpoints document (exposed for tests).
std::string debug_endpoints_json(const AdminContext& ctx);

}  // namespace llmd::epp
