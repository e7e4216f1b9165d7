#include "loadgen/testing/fake_openai_server.h"

#include <atomic>
#include <charconv>
#include <chrono>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "http/server.h"

namespace llmd::loadgen::testing {

namespace asio = boost::asio;
namespace json = boost::json;

struct FakeOpenAiServer::Impl {
  std::unique_ptr<http::Server> server;
  std::atomic<uint64_t> requests{0};
};

namespace {

std::string header(const http::Request& req, std::string_view name) {
  auto it = req.find(name);
  return it == req.end() ? std::string() : std::string(it->value());
}

http::Awaitable<void> handle(http::Request& req, http::Responder& res, bool chat,
                             std::atomic<uint64_t>& count) {
  count.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code ec;
  const json::value body = json::parse(req.body(), ec);
  if (ec || !body.is_object()) {
    const std::string_view message = "bad JSON";
    co_await res.send(
        http::error_response(http::Status::bad_request, message, req.version(), req.keep_alive()));
    co_return;
  }
  const auto& o = body.get_object();
  int max_tokens = 16;
  if (const auto* m = o.if_contains("max_tokens"); m && m->is_int64())
    max_tokens = static_cast<int>(m->as_int64());
  const auto* s = o.if_contains("stream");
  const bool stream = s && s->is_bool() && s->as_bool();

  if (const std::string delay = header(req, "x-fake-delay-ms"); !delay.empty()) {
    int ms = 0;
    std::from_chars(delay.data(), delay.data() + delay.size(), ms);
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (const std::string status = header(req, "x-fake-status"); !status.empty()) {
    int code = 500;
    std::from_chars(status.data(), status.data() + status.size(), code);
    const std::string_view message = "injected failure";
    co_await res.send(
        http::error_response(static_cast<http::Status>(code), message, req.version(), req.keep_alive()));
    co_return;
  }
  const std::string mode = header(req, "x-fake-mode");
  const uint32_t prompt_tokens = static_cast<uint32_t>(req.body().size() / 4);
  const json::object usage{{"prompt_tokens", prompt_tokens},
                           {"completion_tokens", max_tokens},
                           {"total_tokens", prompt_tokens + max_tokens},
                           {"prompt_tokens_details", json::object{{"cached_tokens", kCachedTokens}}}};
  if (!stream) {
    json::object choice{{"index", 0}, {"finish_reason", "length"}};
    std::string text;
    for (int i = 0; i < max_tokens; ++i) text += " tok";
    if (chat) {
      choice["message"] = json::object{{"role", "assistant"}, {"content", text}};
    } else {
      choice["text"] = text;
    }
    json::object resp{{"id", "cmpl-1"}, {"choices", json::array{choice}}, {"usage", usage}};
    co_await res.send(
        http::json_response(http::Status::ok, json::serialize(resp), req.version(), req.keep_alive()));
    co_return;
  }
  http::ResponseHead head;
  head.result(http::Status::ok);
  head.version(req.version());
  head.set(http::Field::content_type, "text/event-stream");
  if (!co_await res.begin_stream(std::move(head))) co_return;
  const std::string_view token_chunk =
      chat ? std::string_view(R"({"choices":[{"index":0,"delta":{"content":" tok"},"finish_reason":null}]})")
           : std::string_view(R"({"choices":[{"index":0,"text":" tok","finish_reason":null}]})");
  for (int i = 0; i < max_tokens; ++i) {
    if (i == 1 && mode == "stream-error") {
      const std::string_view error =
          R"({"error":{"message":"engine died","type":"InternalServerError","code":500}})";
      co_await res.write_sse(error);
      co_await res.finish();
      co_return;
    }
    if (i == 1 && mode == "truncate") {
      co_await res.finish();
      co_return;
    }
    if (!co_await res.write_sse(token_chunk)) co_return;
  }
  const std::string_view last =
      chat ? std::string_view(R"({"choices":[{"index":0,"delta":{},"finish_reason":"length"}]})")
           : std::string_view(R"({"choices":[{"index":0,"text":"","finish_reason":"length"}]})");
  co_await res.write_sse(last);
  const std::string usage_chunk = json::serialize(json::object{{"choices", json::array{}}, {"usage", usage}});
  co_await res.write_sse(usage_chunk);
  // Named, not a literal inside co_await: g++ 12 rejects array temporaries in a coroutine frame.
  const std::string_view done = "[DONE]";
  co_await res.write_sse(done);
  co_await res.finish();
}

}  // namespace

FakeOpenAiServer::FakeOpenAiServer(unsigned threads) : impl_(std::make_unique<Impl>()) {
  http::Router router;
  auto* count = &impl_->requests;
  router.add(http::Verb::post, "/v1/completions",
             [count](http::Request& req, http::Responder& res) { return handle(req, res, false, *count); });
  router.add(http::Verb::post, "/v1/chat/completions",
             [count](http::Request& req, http::Responder& res) { return handle(req, res, true, *count); });
  http::ServerOptions opt;
  opt.threads = threads;
  impl_->server = std::make_unique<http::Server>(opt, std::move(router));
}

FakeOpenAiServer::~FakeOpenAiServer() {
  impl_->server->drain();
  impl_->server->wait();
}

Result<void> FakeOpenAiServer::start() { return impl_->server->start(); }
uint16_t FakeOpenAiServer::port() const { return impl_->server->port(); }
uint64_t FakeOpenAiServer::requests() const { return impl_->requests.load(); }

}  // namespace llmd::loadgen::testing
