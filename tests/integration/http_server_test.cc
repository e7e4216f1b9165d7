// The HTTP server on 127.0.0.1 in-process: routing, keep-alive, limits (413/431/400) and timeouts
// seen through raw sockets, chunked bodies, streaming, drain.

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/server.h"
#include "support/raw_socket.h"

namespace llmd::http {
namespace {

using namespace std::chrono_literals;
using boost::asio::as_tuple;
using boost::asio::use_awaitable;

using llmd::testing::kHangGuardSeconds;
using llmd::testing::RawSocket;

// The JSON "error.code" of an OpenAI-style error response body.
int64_t error_code_of(const std::string& response) {
  const auto at = response.find("\r\n\r\n");
  if (at == std::string::npos) return -1;
  try {
    return boost::json::parse(response.substr(at + 4)).at("error").at("code").as_int64();
  } catch (const std::exception&) {
    return -1;
  }
}

// Runs a client coroutine on a private io_context in this thread.
template <class T>
T run_client(boost::asio::io_context& ioc, Awaitable<T> op) {
  auto fut = boost::asio::co_spawn(ioc, std::move(op), boost::asio::use_future);
  ioc.restart();
  ioc.run();
  return fut.get();
}

Request make_request(Verb method, std::string target, std::string body = {}) {
  Request req{method, target, 11};
  req.body() = std::move(body);
  return req;
}

Router test_router() {
  Router r;
  r.add(Verb::get, "/hello", [](Request& req, Responder& res) -> Awaitable<void> {
    Response out = json_response(Status::ok, R"({"status":"ok"})", req.version(), req.keep_alive());
    out.set("X-Worker", std::to_string(res.worker()));
    co_await res.send(std::move(out));
  });
  r.add(Verb::post, "/echo", [](Request& req, Responder& res) -> Awaitable<void> {
    co_await res.send(json_response(Status::ok, std::move(req.body()), req.version(), req.keep_alive()));
  });
  r.add(Verb::get, "/stream", [](Request&, Responder& res) -> Awaitable<void> {
    ResponseHead head;
    head.result(Status::ok);
    head.set(Field::content_type, "text/plain");
    const bool begun = co_await res.begin_stream(std::move(head));
    if (!begun) co_return;
    for (int i = 0; i < 5; ++i) {
      const bool written = co_await res.write("piece" + std::to_string(i) + ";");
      if (!written) co_return;
    }
    co_await res.finish();
  });
  // A relayed head: the handler's lines as given, the server's framing around them.
  r.add(Verb::get, "/relayed", [](Request&, Responder& res) -> Awaitable<void> {
    WireHead head;
    head.status = 202;
    head.add("X-From", "upstream");
    head.add("Date", "Sat, 21 Nov 2026 00:00:00 GMT");
    co_await res.send_relayed(head, "relayed-body");
  });
  // Starts a stream, then gives up on it as a proxy does when its upstream dies mid-response.
  r.add(Verb::get, "/aborted", [](Request&, Responder& res) -> Awaitable<void> {
    ResponseHead head;
    head.result(Status::ok);
    head.set(Field::content_type, "text/plain");
    if (!co_await res.begin_stream(std::move(head))) co_return;
    if (!co_await res.write("partial;")) co_return;
    res.abort();
  });
  r.add(Verb::get, "/silent", [](Request&, Responder&) -> Awaitable<void> { co_return; });
  r.add(Verb::get, "/throws", [](Request&, Responder&) -> Awaitable<void> {
    throw std::runtime_error("handler bug");
    co_return;
  });
  return r;
}

struct TestServer {
  explicit TestServer(ServerOptions options = {}, Router router = test_router())
      : server(with_defaults(std::move(options)), std::move(router)) {
    auto started = server.start();
    EXPECT_TRUE(started.has_value()) << (started ? "" : started.error().message);
  }
  static ServerOptions with_defaults(ServerOptions o) {
    if (o.threads == 0) o.threads = 1;
    return o;
  }
  Upstream upstream() const { return Upstream{"127.0.0.1", server.port()}; }
  Server server;
};

TEST(HttpServer, RoundTripAndWorkerIndex) {
  ServerOptions options;
  options.threads = 2;
  TestServer ts(options);
  ASSERT_NE(ts.server.port(), 0);
  EXPECT_EQ(ts.server.worker_count(), 2u);

  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  auto req = make_request(Verb::get, "/hello");
  auto res = run_client(ioc, client.request(ts.upstream(), req));
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->result(), Status::ok);
  EXPECT_EQ(res->body(), R"({"status":"ok"})");
  EXPECT_EQ((*res)[Field::content_type], "application/json");
  EXPECT_EQ((*res)[Field::server], "llmd");
  EXPECT_FALSE((*res)[Field::date].empty());
  const int worker = std::stoi(std::string((*res)["X-Worker"]));
  EXPECT_TRUE(worker == 0 || worker == 1) << worker;

  auto echo = make_request(Verb::post, "/echo", std::string(100'000, 'x'));
  auto echoed = run_client(ioc, client.request(ts.upstream(), echo));
  ASSERT_TRUE(echoed.has_value()) << echoed.error().message;
  EXPECT_EQ(echoed->body(), std::string(100'000, 'x'));
  // The request body was not consumed: the caller could send it again.
  EXPECT_EQ(echo.body().size(), 100'000u);
}

TEST(HttpServer, KeepAliveReusesOneConnection) {
  TestServer ts;
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  for (int i = 0; i < 20; ++i) {
    auto req = make_request(Verb::post, "/echo", "n" + std::to_string(i));
    auto res = run_client(ioc, client.request(ts.upstream(), req));
    ASSERT_TRUE(res.has_value()) << res.error().message;
    EXPECT_EQ(res->body(), "n" + std::to_string(i));
  }
  EXPECT_EQ(client.stats().connects, 1u);
  EXPECT_EQ(client.stats().reused, 19u);
  EXPECT_EQ(ts.server.stats().connections_accepted, 1u);
  EXPECT_EQ(ts.server.stats().requests, 20u);
}

// Bodies of known length are read in pieces of up to 256 KiB (what remains of the body): below,
// between and above that size on one keep-alive connection, then one pipelined behind a large one,
// so a read sized to the body never takes bytes of the next request.
std::string patterned(size_t n, size_t seed) {
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return out;
}

TEST(HttpServer, LargeBodiesArriveWholeOnOneConnection) {
  TestServer ts;
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  const size_t sizes[] = {600'000, 10, 200'000, 262'144, 262'145, 16'385, 3};
  for (size_t i = 0; i < std::size(sizes); ++i) {
    const std::string body = patterned(sizes[i], i);
    auto req = make_request(Verb::post, "/echo", body);
    auto res = run_client(ioc, client.request(ts.upstream(), req));
    ASSERT_TRUE(res.has_value()) << res.error().message;
    EXPECT_EQ(res->body().size(), sizes[i]);
    EXPECT_TRUE(res->body() == body) << "body " << i << " of " << sizes[i] << " bytes differs";
  }
  EXPECT_EQ(ts.server.stats().connections_accepted, 1u);
  EXPECT_EQ(ts.server.stats().requests, std::size(sizes));

  RawSocket s(ts.server.port());
  const std::string big = patterned(700'000, 3);
  ASSERT_TRUE(s.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 700000\r\n\r\n" + big +
                     "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\ntail"));
  const std::string r = s.read_to_close();
  const size_t first = r.find("\r\n\r\n");
  ASSERT_NE(first, std::string::npos) << r.substr(0, 200);
  EXPECT_EQ(r.substr(first + 4, big.size()), big);
  const std::string rest = r.substr(std::min(r.size(), first + 4 + big.size()));
  EXPECT_EQ(rest.rfind("HTTP/1.1 200", 0), 0u) << rest.substr(0, 200);
  EXPECT_EQ(rest.substr(rest.size() >= 4 ? rest.size() - 4 : 0), "tail");
}

TEST(HttpServer, UnknownRouteIs404AndWrongMethod405) {
  TestServer ts;
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string r1 = s.read_until("}}");
  EXPECT_EQ(r1.rfind("HTTP/1.1 404", 0), 0u) << r1;
  EXPECT_EQ(error_code_of(r1), 404);
  ASSERT_TRUE(s.send("GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string r2 = s.read_to_close();
  EXPECT_EQ(r2.rfind("HTTP/1.1 405", 0), 0u) << r2;
  EXPECT_NE(r2.find("Connection: close"), std::string::npos);
  EXPECT_EQ(error_code_of(r2), 405);
}

TEST(HttpServer, OversizedBodyIs413) {
  TestServer ts;
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 20000000\r\n\r\nabc"));
  bool closed = false;
  const std::string r = s.read_to_close(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
  EXPECT_EQ(error_code_of(r), 413);
  EXPECT_EQ(ts.server.stats().bodies_too_large, 1u);
}

TEST(HttpServer, OversizedChunkedBodyIs413) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  TestServer ts(options);
  RawSocket s(ts.server.port());
  const std::string chunk(1000, 'a');
  ASSERT_TRUE(s.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + chunk +
                     "\r\n3e8\r\n" + chunk + "\r\n0\r\n\r\n"));
  const std::string r = s.read_to_close();
  EXPECT_EQ(r.rfind("HTTP/1.1 413", 0), 0u) << r;
  EXPECT_EQ(error_code_of(r), 413);
}

TEST(HttpServer, OversizedHeaderIs431) {
  TestServer ts;
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 * 1024, 'h') + "\r\n\r\n"));
  bool closed = false;
  const std::string r = s.read_to_close(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 431", 0), 0u) << r.substr(0, 200);
  EXPECT_EQ(error_code_of(r), 431);
  EXPECT_EQ(ts.server.stats().headers_too_large, 1u);
}

TEST(HttpServer, MalformedRequestsAre400) {
  TestServer ts;
  for (const std::string bad :
       {"GARBAGE\r\n\r\n", "GET /hello HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "GET /hello HTTP/9.9\r\n\r\n", "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}) {
    RawSocket s(ts.server.port());
    ASSERT_TRUE(s.send(bad));
    bool closed = false;
    const std::string r = s.read_to_close(&closed);
    EXPECT_TRUE(closed) << bad;
    EXPECT_EQ(r.rfind("HTTP/1.1 400", 0), 0u) << bad << " -> " << r;
    EXPECT_EQ(error_code_of(r), 400) << bad;
  }
  EXPECT_EQ(ts.server.stats().bad_requests, 4u);
}

TEST(HttpServer, ChunkedRequestBodyIsAccepted) {
  TestServer ts;
  RawSocket s(ts.server.port());
  ASSERT_TRUE(
      s.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(s.send("5\r\nhello\r\n"));
  ASSERT_TRUE(s.send("6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"));
  const std::string r = s.read_to_close();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Length: 11\r\n"), std::string::npos) << r;
  EXPECT_EQ(r.substr(r.size() - 11), "hello world");
}

TEST(HttpServer, ExpectContinueGets100First) {
  TestServer ts;
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  const std::string interim = s.read_until("\r\n\r\n");
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(s.send("ping"));
  const std::string r = s.read_until("ping");
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
}

TEST(HttpServer, HeadHasLengthButNoBody) {
  TestServer ts;
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.send(
      "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string r = s.read_to_close();
  // Two responses; the first (HEAD) ends right after its headers.
  const auto first_end = r.find("\r\n\r\n");
  ASSERT_NE(first_end, std::string::npos);
  EXPECT_NE(r.substr(0, first_end).find("Content-Length: 15"), std::string::npos) << r;
  EXPECT_EQ(r.compare(first_end + 4, 12, "HTTP/1.1 200"), 0) << r;
  EXPECT_EQ(r.substr(r.size() - 15), R"({"status":"ok"})");
}

TEST(HttpServer, RelayedHeadGetsTheServersFraming) {
  TestServer ts;
  RawSocket s(ts.server.port());
  ASSERT_TRUE(
      s.send("GET /relayed HTTP/1.1\r\nHost: x\r\n\r\nHEAD /relayed HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /relayed HTTP/1.0\r\n\r\n"));
  const std::string r = s.read_to_close();
  const std::string head = "X-From: upstream\r\nDate: Sat, 21 Nov 2026 00:00:00 GMT\r\nServer: llmd\r\n";
  // Keep-alive (1.1, the default), the same head without the body for HEAD, then HTTP/1.0, which closes.
  EXPECT_EQ(r, "HTTP/1.1 202 Accepted\r\n" + head + "Content-Length: 12\r\n\r\nrelayed-body" +
                   "HTTP/1.1 202 Accepted\r\n" + head + "Content-Length: 12\r\n\r\n" +
                   "HTTP/1.0 202 Accepted\r\n" + head + "Content-Length: 12\r\n\r\nrelayed-body");
}

TEST(HttpServer, Http10GetsAnHttp10Answer) {
  TestServer ts;
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.send("GET /hello HTTP/1.0\r\n\r\n"));
  bool closed = false;
  const std::string r = s.read_to_close(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(r.rfind("HTTP/1.0 200", 0), 0u) << r;
  EXPECT_EQ(r.substr(r.size() - 15), R"({"status":"ok"})");
}

TEST(HttpServer, HandlerWithoutResponseOrThrowingGets500) {
  TestServer ts;
  for (const char* target : {"/silent", "/throws"}) {
    RawSocket s(ts.server.port());
    ASSERT_TRUE(s.send(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string r = s.read_to_close();
    EXPECT_EQ(r.rfind("HTTP/1.1 500", 0), 0u) << target << ": " << r;
    EXPECT_EQ(error_code_of(r), 500);
  }
  EXPECT_EQ(ts.server.stats().handler_errors, 1u);
}

TEST(HttpServer, AbortedStreamIsCutWithoutTheFinalChunk) {
  TestServer ts;
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.send("GET /aborted HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string r = s.read_to_close();
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_NE(r.find("partial;"), std::string::npos) << r;
  // The connection closed without "0\r\n\r\n": the client can tell the answer is incomplete.
  EXPECT_EQ(r.find("\r\n0\r\n\r\n"), std::string::npos) << r;
  EXPECT_EQ(ts.server.stats().handler_errors, 0u);
}

TEST(HttpServer, ChunkedStreamingResponse) {
  TestServer ts;
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  std::string body;
  std::string content_type;
  auto req = make_request(Verb::get, "/stream");
  StreamHandler handler;
  handler.on_head = [&](const ResponseHead& head) -> Awaitable<bool> {
    content_type = std::string(head[Field::content_type]);
    co_return head.result() == Status::ok;
  };
  handler.on_body = [&](std::string_view bytes) -> Awaitable<bool> {
    body.append(bytes);
    co_return true;
  };
  auto r = run_client(ioc, client.stream(ts.upstream(), req, handler));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(content_type, "text/plain");
  EXPECT_EQ(body, "piece0;piece1;piece2;piece3;piece4;");
  // The stream ended cleanly, so its connection went back to the pool.
  auto again = make_request(Verb::get, "/stream");
  auto whole = run_client(ioc, client.request(ts.upstream(), again));
  ASSERT_TRUE(whole.has_value()) << whole.error().message;
  EXPECT_EQ(whole->body(), body);
  EXPECT_EQ(client.stats().connects, 1u);
}

TEST(HttpServer, IdleConnectionIsClosed) {
  ServerOptions options;
  options.idle_timeout = 150ms;
  TestServer ts(options);
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.connected());
  bool closed = false;
  const std::string r = s.read_to_close(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(r, "");
  EXPECT_EQ(ts.server.stats().idle_closes, 1u);
}

TEST(HttpServer, IdleKeepAliveConnectionIsClosedAfterAResponse) {
  ServerOptions options;
  options.idle_timeout = 150ms;
  TestServer ts(options);
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  bool closed = false;
  const std::string r = s.read_to_close(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
  EXPECT_EQ(ts.server.stats().idle_closes, 1u);
}

TEST(HttpServer, SlowlorisIsDroppedAtTheReadTimeout) {
  ServerOptions options;
  options.read_timeout = 300ms;
  options.idle_timeout = 60s;
  TestServer ts(options);
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.send("GET /hello HTTP/1.1\r\n"));
  // Trickle header lines, never finishing the request, until the server answers or closes.
  for (int i = 0; i < kHangGuardSeconds * 20 && !s.readable_now(); ++i) {
    if (!s.send("X-Slow-" + std::to_string(i) + ": 1\r\n")) break;
    std::this_thread::sleep_for(50ms);
  }
  bool closed = false;
  const std::string r = s.read_to_close(&closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(r.rfind("HTTP/1.1 408", 0), 0u) << r;
  EXPECT_EQ(ts.server.stats().read_timeouts, 1u);
}

TEST(HttpServer, ClientThatStopsReadingHitsTheWriteTimeout) {
  std::promise<int> stopped_after;  // chunks written when write() said the client is gone
  Router r;
  r.add(Verb::get, "/flood", [&stopped_after](Request&, Responder& res) -> Awaitable<void> {
    const std::string chunk(64 * 1024, 'f');
    int written = 0;
    for (;;) {
      const bool ok = co_await res.write_sse(chunk);
      if (!ok) break;
      ++written;
    }
    stopped_after.set_value(written);
  });
  ServerOptions options;
  options.write_timeout = 200ms;
  TestServer ts(options, std::move(r));
  RawSocket s(ts.server.port());
  ASSERT_TRUE(s.send("GET /flood HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Never read: the socket buffers fill, the server's write stalls and times out.
  const int written = stopped_after.get_future().get();
  EXPECT_GT(written, 0);
  EXPECT_EQ(ts.server.stats().write_timeouts, 1u);
  EXPECT_GE(ts.server.stats().backpressure_waits, 1u);
}

TEST(HttpServer, ConnectionBoundPerWorker) {
  ServerOptions options;
  options.max_connections_per_worker = 2;
  TestServer ts(options);
  RawSocket a(ts.server.port());
  RawSocket b(ts.server.port());
  // Make sure both are accepted (and counted) before the third arrives.
  ASSERT_TRUE(a.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(b.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(a.read_until("}").find("200"), std::string::npos);
  EXPECT_NE(b.read_until("}").find("200"), std::string::npos);
  RawSocket c(ts.server.port());
  bool closed = false;
  EXPECT_EQ(c.read_to_close(&closed), "");
  EXPECT_TRUE(closed);
  EXPECT_EQ(ts.server.stats().connections_rejected, 1u);
  EXPECT_EQ(ts.server.stats().connections_accepted, 2u);
}

// A handler that waits until the test opens its gate (a timer cancelled from outside).
// The timer lives in the handler's frame (it must not outlive the server's io_context); `timer`
// points at it while the handler waits, and is only touched on the worker thread.
struct Gate {
  std::promise<void> entered;
  std::atomic<bool> wait_ended{false};
  boost::asio::steady_timer* timer = nullptr;
};

Router gated_router(Gate& gate) {
  Router r;
  r.add(Verb::get, "/slow", [&gate](Request& req, Responder& res) -> Awaitable<void> {
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor,
                                    std::chrono::steady_clock::time_point::max());
    gate.timer = &timer;
    gate.entered.set_value();
    // Ends when the test cancels the timer (opening the gate) or the server cancels the handler.
    co_await timer.async_wait(as_tuple(use_awaitable));
    gate.timer = nullptr;
    gate.wait_ended = true;
    co_await res.send(json_response(Status::ok, "done", req.version(), req.keep_alive()));
  });
  return r;
}

TEST(HttpServer, DrainFinishesInFlightAndRefusesNewConnections) {
  Gate gate;
  ServerOptions options;
  options.drain_timeout = 60s;
  TestServer ts(options, gated_router(gate));
  const uint16_t port = ts.server.port();

  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  auto req = make_request(Verb::get, "/slow");
  auto fut = boost::asio::co_spawn(ioc, client.request(ts.upstream(), req), boost::asio::use_future);
  std::thread client_thread([&] { ioc.run(); });

  gate.entered.get_future().wait();
  ts.server.drain();
  // New connections are refused once the worker has closed its acceptor.
  bool refused = false;
  for (int i = 0; i < 10'000 && !refused; ++i) {
    RawSocket probe(port);
    refused = !probe.connected();
    if (!refused) std::this_thread::sleep_for(1ms);
  }
  EXPECT_TRUE(refused);

  boost::asio::post(ts.server.worker_executor(0), [&] {
    if (gate.timer != nullptr) gate.timer->cancel();
  });
  auto res = fut.get();
  client_thread.join();
  ASSERT_TRUE(res.has_value()) << res.error().message;
  EXPECT_EQ(res->result(), Status::ok);
  EXPECT_EQ(res->body(), "done");
  EXPECT_FALSE(res->keep_alive());  // draining: the server said Connection: close
  ts.server.wait();
  EXPECT_EQ(ts.server.stats().drain_kills, 0u);
}

TEST(HttpServer, DrainDeadlineCutsStuckHandlers) {
  Gate gate;
  ServerOptions options;
  options.drain_timeout = 100ms;
  TestServer ts(options, gated_router(gate));

  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  auto req = make_request(Verb::get, "/slow");
  auto fut = boost::asio::co_spawn(ioc, client.request(ts.upstream(), req), boost::asio::use_future);
  std::thread client_thread([&] { ioc.run(); });
  gate.entered.get_future().wait();
  ts.server.drain();
  ts.server.wait();  // returns: the stuck handler was cancelled
  auto res = fut.get();
  client_thread.join();
  EXPECT_FALSE(res.has_value());
  EXPECT_TRUE(gate.wait_ended);
  EXPECT_EQ(ts.server.stats().drain_kills, 1u);
}

// Whether a listening TCP socket of this process is bound to `port` (from /proc, so a socket another
// process bound to the same port meanwhile does not count).
bool listening_here(uint16_t port) {
  std::set<std::string> inodes;  // of this process's sockets
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
    if (!ec && target.starts_with("socket:[")) inodes.insert(target.substr(8, target.size() - 9));
  }
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      const size_t colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos) continue;  // 0A: LISTEN
      if (std::stoul(local.substr(colon + 1), nullptr, 16) == port && inodes.contains(inode)) return true;
    }
  }
  return false;
}

TEST(HttpServer, RunUntilSignalReturnsWhenDrainedElsewhere) {
  TestServer ts;
  const uint16_t port = ts.server.port();
  ASSERT_TRUE(listening_here(port));
  std::thread drainer([&] { ts.server.drain(); });
  ts.server.run_until_signal();
  drainer.join();
  // The listener is closed. (Probing the port with a connect could reach another test's server that
  // was given the freed port meanwhile.)
  EXPECT_FALSE(listening_here(port));
}

TEST(HttpServer, BindFailureIsReported) {
  ServerOptions options;
  options.threads = 1;
  // Another owner holds the port with a plain (not SO_REUSEPORT) listening socket.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  options.port = ntohs(addr.sin_port);
  Server second(options, test_router());
  auto r = second.start();
  ::close(fd);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kIo);
}

}  // namespace
}  // namespace llmd::http
