#pragma once
// Serves a Prometheus text-format (0.0.4) page at GET /metrics. Every llmd service mounts its
// metrics with this, so the exposition path, content type and `name[]` filtering are the same
// everywhere.

#include <functional>
#include <span>
#include <string>

#include "http/server.h"
#include "metrics/registry.h"

namespace llmd::http {

// Appends the page to `out`. `names` are the request's `?name[]=` values, as Prometheus client
// libraries send them: the page should hold only those samples; empty means every sample. Runs on
// the server's worker thread for every scrape.
using ExposeFn = std::function<void(std::string& out, std::span<const std::string> names)>;

// Adds GET `path` to `router`, answering with what `expose` writes.
void mount_metrics(Router& router, ExposeFn expose, std::string path = "/metrics");

// The same for one registry (Registry::expose_to with the names); `registry` must outlive the server.
void mount_metrics(Router& router, const metrics::Registry& registry, std::string path = "/metrics");

}  // namespace llmd::http
