#include <algorithm>

#include "http/server.h"

namespace llmd::http {

namespace {

std::string_view path_of(std::string_view target) {
  const auto q = target.find_first_of("?#");
  return q == std::string_view::npos ? target : target.substr(0, q);
}

}  // namespace

Router::Router()
    : fallback_([](Request& req, Responder& res) -> Awaitable<void> {
        co_await res.send(error_response(Status::not_found,
                                         "no route for " + std::string(path_of(req.target())), req.version(),
                                         req.keep_alive()));
      }),
      method_not_allowed_([](Request& req, Responder& res) -> Awaitable<void> {
        co_await res.send(error_response(
            Status::method_not_allowed,
            std::string(req.method_string()) + " is not allowed on " + std::string(path_of(req.target())),
            req.version(), req.keep_alive()));
      }) {}

void Router::add(Verb method, std::string path, Handler handler) {
  for (auto& e : exact_) {
    if (e.method == method && e.path == path) {
      e.handler = std::move(handler);
      return;
    }
  }
  exact_.push_back(Exact{method, std::move(path), std::move(handler)});
}

void Router::add_prefix(std::string prefix, Handler handler) {
  for (auto& p : prefixes_) {
    if (p.prefix == prefix) {
      p.handler = std::move(handler);
      return;
    }
  }
  prefixes_.push_back(Prefix{std::move(prefix), std::move(handler)});
  // Longest prefix first so the first match is the most specific one.
  std::stable_sort(prefixes_.begin(), prefixes_.end(),
                   [](const Prefix& a, const Prefix& b) { return a.prefix.size() > b.prefix.size(); });
}

void Router::set_fallback(Handler handler) { fallback_ = std::move(handler); }

const Handler& Router::route(Verb method, std::string_view target) const {
  const std::string_view path = path_of(target);
  const Handler* head_as_get = nullptr;
  bool path_known = false;
  for (const auto& e : exact_) {
    if (e.path != path) continue;
    if (e.method == method) return e.handler;
    if (method == Verb::head && e.method == Verb::get) head_as_get = &e.handler;
    path_known = true;
  }
  if (head_as_get != nullptr) return *head_as_get;
  for (const auto& p : prefixes_) {
    if (path.starts_with(p.prefix)) return p.handler;
  }
  return path_known ? method_not_allowed_ : fallback_;
}

}  // namespace llmd::http
