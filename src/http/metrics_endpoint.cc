#include "http/metrics_endpoint.h"

#include "metrics/text_format.h"

namespace llmd::http {

void mount_metrics(Router& router, ExposeFn expose, std::string path) {
  router.add(Verb::get, std::move(path),
             [expose = std::move(expose)](Request& req, Responder& res) -> Awaitable<void> {
               Response out{Status::ok, req.version()};
               out.set(Field::content_type, metrics::kContentType);
               expose(out.body(), query_values(req.target(), "name[]"));
               out.keep_alive(req.keep_alive());
               out.prepare_payload();
               co_await res.send(std::move(out));
             });
}

void mount_metrics(Router& router, const metrics::Registry& registry, std::string path) {
  mount_metrics(
      router,
      [&registry](std::string& out, std::span<const std::string> names) { registry.expose_to(out, names); },
      std::move(path));
}

}  // namespace llmd::http
