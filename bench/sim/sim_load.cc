// A small closed-loop streaming load client for the simulator benchmark: `--concurrency` workers
// per target URL each send streaming completions back to back for `--seconds`, and the tool reports
// streamed tokens per second (from each stream's usage chunk) and requests per second.
//
//   sim_load --port 8000 --replicas 4 --concurrency 32 --max-tokens 256 --seconds 10

#include <chrono>
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include "http/client.h"
#include "http/sse.h"

namespace {

namespace asio = boost::asio;
using llmd::http::Awaitable;

struct Totals {
  uint64_t tokens = 0;
  uint64_t chunks = 0;  // SSE events carrying text (tokens that piled up arrive merged in one)
  uint64_t requests = 0;
  uint64_t errors = 0;
};

Awaitable<void> worker(llmd::http::Client& client, llmd::http::Upstream up, std::string body,
                       std::chrono::steady_clock::time_point end, Totals& totals) {
  while (std::chrono::steady_clock::now() < end) {
    llmd::http::Request req{llmd::http::Verb::post, "/v1/completions", 11};
    req.set(llmd::http::Field::content_type, "application/json");
    req.body() = body;
    llmd::http::SseParser sse;
    uint64_t tokens = 0;
    uint64_t chunks = 0;
    bool ok = false;
    llmd::http::StreamHandler h;
    h.on_head = [&](const llmd::http::ResponseHead& head) -> Awaitable<bool> {
      co_return head.result() == llmd::http::Status::ok;
    };
    h.on_body = [&](std::string_view bytes) -> Awaitable<bool> {
      const bool good = sse.feed(bytes, [&](const llmd::http::SseEvent& ev) {
        if (ev.data == "[DONE]") {
          ok = true;
          return;
        }
        if (ev.data.find("\"usage\"") == std::string::npos) {
          ++chunks;
          return;
        }
        boost::system::error_code ec;
        auto v = boost::json::parse(ev.data, ec);
        if (!ec) tokens = v.at("usage").at("completion_tokens").to_number<uint64_t>();
      });
      co_return good;
    };
    auto r = co_await client.stream(up, req, std::move(h));
    if (r && ok) {
      totals.tokens += tokens;
      totals.chunks += chunks;
      ++totals.requests;
    } else {
      ++totals.errors;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Streaming load client for llmd sim"};
  std::string host = "127.0.0.1";
  uint16_t port = 8000;
  int replicas = 1;
  int concurrency = 16;
  int max_tokens = 256;
  double seconds = 10;
  std::string model = "sim-instant";
  app.add_option("--host", host);
  app.add_option("--port", port);
  app.add_option("--replicas", replicas, "Targets: port .. port + replicas - 1");
  app.add_option("--concurrency", concurrency, "Concurrent streams per replica");
  app.add_option("--max-tokens", max_tokens);
  app.add_option("--seconds", seconds);
  app.add_option("--model", model);
  CLI11_PARSE(app, argc, argv);

  asio::io_context ioc;
  llmd::http::Client client(ioc.get_executor());
  Totals totals;
  const std::string body = fmt::format(
      R"({{"model":"{}","prompt":"Benchmark the simulator with a short prompt.","max_tokens":{},"ignore_eos":true,)"
      R"("stream":true,"stream_options":{{"include_usage":true}}}})",
      model, max_tokens);
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>(seconds));
  for (int r = 0; r < replicas; ++r) {
    for (int c = 0; c < concurrency; ++c) {
      asio::co_spawn(ioc, worker(client, {host, static_cast<uint16_t>(port + r)}, body, end, totals),
                     asio::detached);
    }
  }
  ioc.run();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(
      "{{\"tokens\":{},\"chunks\":{},\"requests\":{},\"errors\":{},\"seconds\":{:.3f},"
      "\"tokens_per_s\":{:.0f},\"chunks_per_s\":{:.0f},\"requests_per_s\":{:.1f}}}\n",
      totals.tokens, totals.chunks, totals.requests, totals.errors, elapsed,
      static_cast<double>(totals.tokens) / elapsed, static_cast<double>(totals.chunks) / elapsed,
      static_cast<double>(totals.requests) / elapsed);
  return totals.errors == 0 ? 0 : 1;
}
