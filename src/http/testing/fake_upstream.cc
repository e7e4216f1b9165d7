#include "http/testing/fake_upstream.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <mutex>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "http/server.h"

namespace llmd::http::testing {

namespace asio = boost::asio;
namespace bjson = boost::json;

struct FakeUpstream::Impl {
  std::string name;
  unsigned threads = 1;
  std::unique_ptr<http::Server> server;
  mutable std::mutex mu;
  std::string metrics_text;
  int metrics_status = 200;
  std::vector<std::string> models;
  std::string last_headers;
  std::string last_body;
  std::string last_metrics_target;
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> metrics_requests{0};
  std::atomic<uint64_t> cancelled{0};
};

namespace {

std::string header(const http::Request& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string() : std::string(it->value());
}

int header_int(const http::Request& req, std::string_view name, int fallback) {
  const std::string v = header(req, name);
  int out = fallback;
  if (!v.empty()) std::from_chars(v.data(), v.data() + v.size(), out);
  return out;
}

http::Awaitable<void> sleep_ms(int ms) {
  asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
  co_await t.async_wait(asio::use_awaitable);
}

// Counts handlers that ended without finishing their answer (a cancelled wait throws through here).
struct CancelWatch {
  std::atomic<uint64_t>& counter;
  bool done = false;
  ~CancelWatch() {
    if (!done) counter.fetch_add(1);
  }
};

http::Awaitable<void> inference(FakeUpstream::Impl& im, http::Request& req, http::Responder& res) {
  im.requests.fetch_add(1);
  {
    std::vector<std::string> lines;
    for (const auto& f : req) {
      std::string n(f.name_string());
      for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      lines.push_back(n + ": " + std::string(f.value()) + "\n");
    }
    std::sort(lines.begin(), lines.end());
    std::lock_guard lock(im.mu);
    im.last_headers.clear();
    for (const auto& l : lines) im.last_headers += l;
    im.last_body = req.body();
  }
  CancelWatch watch{im.cancelled};
  if (const int delay = header_int(req, "x-fake-delay-ms", 0); delay > 0) co_await sleep_ms(delay);
  if (const int status = header_int(req, "x-fake-status", 0); status != 0) {
    watch.done = true;
    co_await res.send(http::error_response(static_cast<http::Status>(status), "injected failure",
                                           req.version(), req.keep_alive()));
    co_return;
  }
  boost::system::error_code ec;
  const bjson::value body = bjson::parse(req.body(), ec);
  bool stream = false;
  if (!ec && body.is_object()) {
    if (const auto* s = body.get_object().if_contains("stream"); s != nullptr && s->is_bool())
      stream = s->get_bool();
  }
  const bjson::object usage{{"prompt_tokens", static_cast<int64_t>(req.body().size() / 4)},
                            {"completion_tokens", 3},
                            {"total_tokens", static_cast<int64_t>(req.body().size() / 4) + 3}};
  if (!stream) {
    bjson::object headers;
    for (const auto& f : req) headers[std::string(f.name_string())] = std::string(f.value());
    bjson::object out{{"server", im.name},
                      {"body_bytes", static_cast<int64_t>(req.body().size())},
                      {"headers", std::move(headers)},
                      {"usage", usage}};
    watch.done = true;
    co_await res.send(
        http::json_response(http::Status::ok, bjson::serialize(out), req.version(), req.keep_alive()));
    co_return;
  }
  const int chunks = header_int(req, "x-fake-chunks", 3);
  const int gap = header_int(req, "x-fake-chunk-gap-ms", 0);
  for (int i = 0; i < chunks; ++i) {
    bjson::object ev{
        {"server", im.name}, {"index", i}, {"choices", bjson::array{bjson::object{{"text", " tok"}}}}};
    if (!co_await res.write_sse(bjson::serialize(ev))) co_return;
    if (gap > 0) co_await sleep_ms(gap);
  }
  bjson::object last{{"server", im.name}, {"choices", bjson::array{}}, {"usage", usage}};
  if (!co_await res.write_sse(bjson::serialize(last))) co_return;
  if (!co_await res.write_sse("[DONE]")) co_return;
  watch.done = true;
}

}  // namespace

FakeUpstream::FakeUpstream(std::string name, unsigned threads) : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  impl_->threads = threads;
}

FakeUpstream::~FakeUpstream() { stop(); }

Result<void> FakeUpstream::start() {
  Impl& im = *impl_;
  http::Router r;
  r.add(http::Verb::get, "/metrics",
        [&im](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
          im.metrics_requests.fetch_add(1);
          std::string text;
          int status = 200;
          {
            std::lock_guard lock(im.mu);
            text = im.metrics_text;
            status = im.metrics_status;
            im.last_metrics_target = std::string(req.target());
          }
          http::Response out{static_cast<http::Status>(status), req.version()};
          out.set(http::Field::content_type, "text/plain; version=0.0.4");
          out.body() = std::move(text);
          out.keep_alive(req.keep_alive());
          co_await res.send(std::move(out));
        });
  r.add(http::Verb::get, "/v1/models",
        [&im](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
          std::vector<std::string> models;
          {
            std::lock_guard lock(im.mu);
            models = im.models;
          }
          if (models.empty()) {
            co_await res.send(
                http::error_response(http::Status::not_found, "no models", req.version(), req.keep_alive()));
            co_return;
          }
          bjson::array data;
          for (const auto& m : models) {
            bjson::object o;
            o["id"] = m;
            o["object"] = "model";
            o["owned_by"] = im.name;
            data.push_back(std::move(o));
          }
          bjson::object list;
          list["object"] = "list";
          list["data"] = std::move(data);
          co_await res.send(
              http::json_response(http::Status::ok, bjson::serialize(list), req.version(), req.keep_alive()));
        });
  auto infer = [&im](http::Request& req, http::Responder& res) { return inference(im, req, res); };
  r.add(http::Verb::post, "/v1/completions", infer);
  r.add(http::Verb::post, "/v1/chat/completions", infer);
  r.set_fallback([&im](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
    bjson::object out{{"server", im.name}, {"path", std::string(req.target())}};
    co_await res.send(
        http::json_response(http::Status::ok, bjson::serialize(out), req.version(), req.keep_alive()));
  });
  http::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = im.threads;
  o.drain_timeout = std::chrono::milliseconds(100);
  im.server = std::make_unique<http::Server>(o, std::move(r));
  return im.server->start();
}

void FakeUpstream::stop() {
  if (!impl_->server) return;
  impl_->server->drain();
  impl_->server->wait();
  impl_->server.reset();
}

uint16_t FakeUpstream::port() const { return impl_->server ? impl_->server->port() : 0; }
const std::string& FakeUpstream::name() const { return impl_->name; }

void FakeUpstream::set_metrics(std::string text) {
  std::lock_guard lock(impl_->mu);
  impl_->metrics_text = std::move(text);
}
void FakeUpstream::set_metrics_status(int status) {
  std::lock_guard lock(impl_->mu);
  impl_->metrics_status = status;
}
void FakeUpstream::set_models(std::vector<std::string> ids) {
  std::lock_guard lock(impl_->mu);
  impl_->models = std::move(ids);
}
uint64_t FakeUpstream::requests() const { return impl_->requests.load(); }
uint64_t FakeUpstream::connections() const {
  return impl_->server ? impl_->server->stats().connections_accepted : 0;
}
uint64_t FakeUpstream::metrics_requests() const { return impl_->metrics_requests.load(); }
uint64_t FakeUpstream::cancelled() const { return impl_->cancelled.load(); }
std::string FakeUpstream::last_headers() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last_headers;
}
std::string FakeUpstream::last_metrics_target() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last_metrics_target;
}
std::string FakeUpstream::last_body() const {
  std::lock_guard lock(impl_->mu);
  return impl_->last_body;
}

std::string vllm_metrics_page(int waiting, int running, double kv_usage, int block_size, int num_gpu_blocks) {
  return fmt::format(
      "# HELP vllm:num_requests_running Number of requests in model execution batches.\n"
      "# TYPE vllm:num_requests_running gauge\n"
      "vllm:num_requests_running{{engine=\"0\",model_name=\"m\"}} {}\n"
      "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
      "# TYPE vllm:num_requests_waiting gauge\n"
      "vllm:num_requests_waiting{{engine=\"0\",model_name=\"m\"}} {}\n"
      "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n"
      "# TYPE vllm:kv_cache_usage_perc gauge\n"
      "vllm:kv_cache_usage_perc{{engine=\"0\",model_name=\"m\"}} {}\n"
      "# HELP vllm:cache_config_info Information of the LLMCache\n"
      "# TYPE vllm:cache_config_info gauge\n"
      "vllm:cache_config_info{{block_size=\"{}\",engine=\"0\",num_gpu_blocks=\"{}\"}} 1.0\n"
      "# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.\n"
      "# TYPE vllm:e2e_request_latency_seconds histogram\n"
      "vllm:e2e_request_latency_seconds_bucket{{le=\"0.3\",model_name=\"m\"}} 3.0\n"
      "vllm:e2e_request_latency_seconds_bucket{{le=\"+Inf\",model_name=\"m\"}} 4.0\n"
      "vllm:e2e_request_latency_seconds_count{{model_name=\"m\"}} 4.0\n"
      "vllm:e2e_request_latency_seconds_sum{{model_name=\"m\"}} 1.5\n"
      "python_gc_objects_collected_total{{generation=\"0\"}} 1234.0\n",
      running, waiting, kv_usage, block_size, num_gpu_blocks);
}

}  // namespace llmd::http::testing
