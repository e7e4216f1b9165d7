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
  std::atomic<int> inference_delay_ms{0};
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

// The token count N of an inference answer (see the header comment).
int token_count(const http::Request& req, const bjson::object& body) {
  if (const int chunks = header_int(req, "x-fake-chunks", -1); chunks >= 0) return chunks;
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (const auto* m = body.if_contains(key); m != nullptr && m->is_int64())
      return static_cast<int>(m->as_int64());
  }
  return 16;
}

http::Awaitable<void> inference(FakeUpstream::Impl& im, http::Request& req, http::Responder& res, bool chat) {
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
  if (const int delay = header_int(req, "x-fake-delay-ms", im.inference_delay_ms.load()); delay > 0) {
    co_await sleep_ms(delay);
  }
  if (!header(req, "x-fake-status").empty()) {
    const int status = header_int(req, "x-fake-status", 500);
    watch.done = true;
    co_await res.send(http::error_response(static_cast<http::Status>(status), "injected failure",
                                           req.version(), req.keep_alive()));
    co_return;
  }
  boost::system::error_code ec;
  const bjson::value parsed = bjson::parse(req.body(), ec);
  if (ec || !parsed.is_object()) {
    watch.done = true;
    co_await res.send(http::error_response(http::Status::bad_request, "the body is not a JSON object",
                                           req.version(), req.keep_alive()));
    co_return;
  }
  const bjson::object& body = parsed.get_object();
  const auto* s = body.if_contains("stream");
  const bool stream = s != nullptr && s->is_bool() && s->get_bool();
  const int tokens = token_count(req, body);
  const auto prompt_tokens = static_cast<int64_t>(req.body().size() / 4);
  const bjson::object usage{
      {"prompt_tokens", prompt_tokens},
      {"completion_tokens", tokens},
      {"total_tokens", prompt_tokens + tokens},
      {"prompt_tokens_details", bjson::object{{"cached_tokens", FakeUpstream::kCachedTokens}}}};
  bjson::value model = nullptr;
  if (const auto* m = body.if_contains("model")) model = *m;
  if (!stream) {
    std::string text;
    for (int i = 0; i < tokens; ++i) text += " tok";
    bjson::object choice{{"index", 0}, {"finish_reason", "length"}};
    if (chat) {
      choice["message"] = bjson::object{{"role", "assistant"}, {"content", std::move(text)}};
    } else {
      choice["text"] = std::move(text);
    }
    bjson::object headers;
    for (const auto& f : req) headers[std::string(f.name_string())] = std::string(f.value());
    bjson::object out{{"id", "cmpl-fake"},
                      {"object", chat ? "chat.completion" : "text_completion"},
                      {"model", model},
                      {"server", im.name},
                      {"body_bytes", static_cast<int64_t>(req.body().size())},
                      {"headers", std::move(headers)},
                      {"choices", bjson::array{std::move(choice)}},
                      {"usage", usage}};
    watch.done = true;
    co_await res.send(
        http::json_response(http::Status::ok, bjson::serialize(out), req.version(), req.keep_alive()));
    co_return;
  }
  const std::string mode = header(req, "x-fake-mode");
  const int gap = header_int(req, "x-fake-chunk-gap-ms", 0);
  // One event of the stream: `choice` (completed with its index) as choices[0], or no choice and usage.
  auto chunk = [&](bjson::object choice, const bjson::object* with_usage = nullptr) {
    bjson::array choices;
    if (!choice.empty()) {
      choice["index"] = 0;
      choices.push_back(std::move(choice));
    }
    bjson::object ev{{"id", "cmpl-fake"},
                     {"object", chat ? "chat.completion.chunk" : "text_completion"},
                     {"model", model},
                     {"server", im.name},
                     {"choices", std::move(choices)}};
    if (with_usage != nullptr) ev["usage"] = *with_usage;
    return bjson::serialize(ev);
  };
  auto token_choice = [&](std::string_view text, bjson::value finish) {
    bjson::object c;
    if (chat) {
      c["delta"] = text.empty() ? bjson::object{} : bjson::object{{"content", text}};
    } else {
      c["text"] = text;
    }
    c["finish_reason"] = std::move(finish);
    return c;
  };
  const std::string token_chunk = chunk(token_choice(" tok", nullptr));
  for (int i = 0; i < tokens; ++i) {
    if (i == 1 && mode == "stream-error") {
      const std::string error = http::openai_error_body(http::Status::internal_server_error, "engine died");
      if (co_await res.write_sse(error)) watch.done = co_await res.finish();
      co_return;
    }
    if (i == 1 && mode == "truncate") {
      watch.done = co_await res.finish();
      co_return;
    }
    if (i == 1 && mode == "cut") {
      watch.done = true;
      res.abort();  // the connection closes mid-stream, as when the engine process dies
      co_return;
    }
    if (!co_await res.write_sse(token_chunk)) co_return;
    if (gap > 0) co_await sleep_ms(gap);
  }
  // Built outside co_await expressions: g++ 12 rejects array temporaries in a coroutine frame.
  const std::string finish_chunk = chunk(token_choice("", "length"));
  const std::string usage_chunk = chunk(bjson::object{}, &usage);
  if (!co_await res.write_sse(finish_chunk)) co_return;
  if (!co_await res.write_sse(usage_chunk)) co_return;
  const std::string_view done = "[DONE]";
  if (!co_await res.write_sse(done)) co_return;
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
  r.add(http::Verb::post, "/v1/completions",
        [&im](http::Request& req, http::Responder& res) { return inference(im, req, res, false); });
  r.add(http::Verb::post, "/v1/chat/completions",
        [&im](http::Request& req, http::Responder& res) { return inference(im, req, res, true); });
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
void FakeUpstream::set_inference_delay(std::chrono::milliseconds delay) {
  impl_->inference_delay_ms.store(static_cast<int>(delay.count()));
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
