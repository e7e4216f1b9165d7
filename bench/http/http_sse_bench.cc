// HTTP runtime microbenchmarks: SSE streaming end to end (our Server streaming to our Client +
// SseParser over loopback), and the parser and router on their own.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <benchmark/benchmark.h>

#include "http/client.h"
#include "http/server.h"
#include "http/sse.h"
#include "log/log.h"

namespace {

using namespace llmd::http;

// A typical OpenAI chat completion chunk (154 bytes).
constexpr std::string_view kChunk =
    R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"m",)"
    R"("choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]})";

// One server stream of `events` SSE events to one client; events/s is items_per_second.
void BM_SseStream(benchmark::State& state) {
  llmd::log::init("warn");
  const int events = static_cast<int>(state.range(0));
  Router router;
  router.add(Verb::get, "/stream", [events](Request&, Responder& res) -> Awaitable<void> {
    for (int i = 0; i < events; ++i) {
      const bool ok = co_await res.write_sse(kChunk);
      if (!ok) co_return;
    }
    co_await res.finish();
  });
  ServerOptions options;
  options.threads = 1;
  Server server(options, std::move(router));
  if (!server.start()) {
    state.SkipWithError("server did not start");
    return;
  }
  boost::asio::io_context ioc(1);
  Client client(ioc.get_executor());
  const Upstream up{"127.0.0.1", server.port()};
  SseParser parser;
  int64_t received = 0;
  bool ok = true;
  for (auto _ : state) {
    Request req{Verb::get, "/stream", 11};
    StreamHandler handler;
    handler.on_body = [&](std::string_view bytes) -> Awaitable<bool> {
      ok = ok && parser.feed(bytes, [&](const SseEvent& e) { received += e.data.size() == kChunk.size(); });
      co_return true;
    };
    boost::asio::co_spawn(
        ioc, [&]() -> Awaitable<void> { ok = ok && (co_await client.stream(up, req, handler)).has_value(); },
        boost::asio::detached);
    ioc.restart();
    ioc.run();
  }
  if (!ok || received != static_cast<int64_t>(events) * state.iterations())
    state.SkipWithError("events lost");
  state.SetItemsProcessed(received);
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(received), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SseStream)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SseParserFeed(benchmark::State& state) {
  std::string stream;
  for (int i = 0; i < 1000; ++i) stream += sse_data(kChunk);
  SseParser parser;
  int64_t events = 0;
  const size_t piece = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    for (size_t at = 0; at < stream.size(); at += piece) {
      parser.feed(std::string_view(stream).substr(at, piece), [&](const SseEvent&) { ++events; });
    }
  }
  state.SetItemsProcessed(events);
  state.SetBytesProcessed(static_cast<int64_t>(stream.size()) * state.iterations());
}
BENCHMARK(BM_SseParserFeed)->Arg(64)->Arg(16 * 1024);

void BM_RouterRoute(benchmark::State& state) {
  Router router;
  auto h = [](Request&, Responder&) -> Awaitable<void> { co_return; };
  for (const char* p : {"/v1/models", "/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/health",
                        "/health/ready", "/metrics", "/tokenize"}) {
    router.add(Verb::post, p, h);
    router.add(Verb::get, p, h);
  }
  router.add_prefix("/admin/", h);
  for (auto _ : state) {
    benchmark::DoNotOptimize(&router.route(Verb::post, "/v1/chat/completions?stream=true"));
  }
}
BENCHMARK(BM_RouterRoute);

}  // namespace

BENCHMARK_MAIN();
