#pragma once
// Serves a metrics registry at GET /metrics in the Prometheus text format 0.0.4. Every llmd
// service mounts its registry with this, so the exposition path is the same everywhere.

#include <string>

#include "http/server.h"
#include "metrics/registry.h"

namespace llmd::http {

// Adds GET `path` to `router`; `registry` must outlive the server. `?name[]=x&name[]=y` limits the
// page to those sample names (Registry::expose_to), as Prometheus client libraries do.
void mount_metrics(Router& router, const metrics::Registry& registry, std::string path = "/metrics");

}  // namespace llmd::http
