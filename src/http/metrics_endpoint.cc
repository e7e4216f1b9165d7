#include "http/metrics_endpoint.h"

#include "metrics/text_format.h"

namespace llmd::http {

void mount_metrics(Router& router, const metrics::Registry& registry, std::string path) {
  router.add(Verb::get, std::move(path), [&registry](Request& req, Responder& res) -> Awaitable<void> {
    Response out{Status::ok, req.version()};
    out.set(Field::content_type, metrics::kContentType);
    // `name[]` parameters limit the page to those samples, as Prometheus client libraries do.
    registry.expose_to(out.body(), query_values(req.target(), "name[]"));
    out.keep_alive(req.keep_alive());
    out.prepare_payload();
    co_await res.send(std::move(out));
  });
}

}  // namespace llmd::http
