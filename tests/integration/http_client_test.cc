// The HTTP client against our server (and a few hand-made peers) on 127.0.0.1, in-process: SSE
// streaming, pooling, timeouts, cancellation and stale-connection retry.

#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/testing/refused_port.h"
#include "http/client.h"
#include "http/server.h"
#include "http/sse.h"

namespace llmd::http {
namespace {

using namespace std::chrono_literals;
using boost::asio::as_tuple;
using boost::asio::use_awaitable;

template <class T>
T run_client(boost::asio::io_context& ioc, Awaitable<T> op) {
  auto fut = boost::asio::co_spawn(ioc, std::move(op), boost::asio::use_future);
  ioc.restart();
  ioc.run();
  return fut.get();
}

Request get(std::string target) { return Request{Verb::get, target, 11}; }

std::string event_payload(int i) {
  return R"({"choices":[{"delta":{"content":"tok)" + std::to_string(i) + R"("}}]})";
}

// What the server's handlers saw, for assertions from the test thread.
struct Observed {
  std::promise<bool> gone;  // client_gone() after the handler stopped
  std::atomic<int> events_written{0};
  // /pingpong: the client opens this gate (cancels the timer) once it has an event. The timer lives
  // in the handler's frame; this points at it and is only touched on the worker thread.
  boost::asio::steady_timer* gate = nullptr;
  std::atomic<int> gates_opened_by_client{0};
};

Router client_test_router(Observed& seen) {
  Router r;
  r.add(Verb::get, "/hello", [](Request& req, Responder& res) -> Awaitable<void> {
    co_await res.send(json_response(Status::ok, R"({"status":"ok"})", req.version(), req.keep_alive()));
  });
  // The request as the server saw it: method, target, each header as "name: value", then the body.
  r.add_prefix("/echo", [](Request& req, Responder& res) -> Awaitable<void> {
    std::string out = std::string(req.method_string()) + " " + std::string(req.target()) + "\n";
    for (const auto& f : req) out += std::string(f.name_string()) + ": " + std::string(f.value()) + "\n";
    out += "\n" + req.body();
    co_await res.send(json_response(Status::ok, out, req.version(), req.keep_alive()));
  });
  r.add(Verb::get, "/big", [](Request& req, Responder& res) -> Awaitable<void> {
    co_await res.send(json_response(Status::ok, std::string(1000, 'b'), req.version(), req.keep_alive()));
  });
  r.add(Verb::get, "/sse10k", [](Request&, Responder& res) -> Awaitable<void> {
    for (int i = 0; i < 10'000; ++i) {
      const bool ok = co_await res.write_sse(event_payload(i));
      if (!ok) co_return;
    }
    co_await res.write_sse("[DONE]");
    co_await res.finish();
  });
  // Never answers; reports whether it saw the client leave.
  r.add(Verb::get, "/never", [&seen](Request&, Responder& res) -> Awaitable<void> {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor,
                                std::chrono::steady_clock::time_point::max());
    co_await t.async_wait(as_tuple(use_awaitable));
    seen.gone.set_value(res.client_gone());
  });
  // An endless SSE stream, one event every few milliseconds, until the client leaves.
  r.add(Verb::get, "/endless", [&seen](Request&, Responder& res) -> Awaitable<void> {
    boost::asio::steady_timer t(co_await boost::asio::this_coro::executor);
    for (int i = 0;; ++i) {
      const bool ok = co_await res.write_sse(event_payload(i));
      if (!ok) break;
      seen.events_written = i + 1;
      t.expires_after(5ms);
      auto [ec] = co_await t.async_wait(as_tuple(use_awaitable));
      if (ec) break;
    }
    seen.gone.set_value(res.client_gone());
  });
  // One event at a time, the next only after the client confirmed the previous one: this deadlocks
  // (until the hang guard) if either side holds bytes back waiting for more.
  r.add(Verb::get, "/pingpong", [&seen](Request&, Responder& res) -> Awaitable<void> {
    boost::asio::steady_timer gate(co_await boost::asio::this_coro::executor);
    seen.gate = &gate;
    for (int i = 0; i < 5; ++i) {
      gate.expires_after(30s);  // hang guard, not a timing assertion
      const bool ok = co_await res.write_sse("ping" + std::to_string(i));
      if (!ok) break;
      auto [ec] = co_await gate.async_wait(as_tuple(use_awaitable));
      if (ec != boost::asio::error::operation_aborted) break;
      ++seen.gates_opened_by_client;
    }
    seen.gate = nullptr;
    co_await res.finish();
  });
  return r;
}

struct Fixture {
  explicit Fixture(ServerOptions options = {}) : server(with_threads(options), client_test_router(seen)) {
    auto r = server.start();
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  }
  static ServerOptions with_threads(ServerOptions o) {
    o.threads = 1;
    return o;
  }
  Upstream upstream() const { return Upstream{"127.0.0.1", server.port()}; }
  Observed seen;
  Server server;
};

TEST(HttpClient, SseTenThousandEventsArriveIntactAndInOrder) {
  Fixture f;
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  SseParser parser;
  std::vector<std::string> events;
  bool parse_ok = true;
  std::string content_type;
  StreamHandler h;
  h.on_head = [&](const ResponseHead& head) -> Awaitable<bool> {
    content_type = std::string(head[Field::content_type]);
    co_return true;
  };
  h.on_body = [&](std::string_view bytes) -> Awaitable<bool> {
    parse_ok = parse_ok && parser.feed(bytes, [&](const SseEvent& e) { events.push_back(e.data); });
    co_return true;
  };
  auto req = get("/sse10k");
  auto r = run_client(ioc, client.stream(f.upstream(), req, h));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(parse_ok);
  EXPECT_EQ(content_type, "text/event-stream");
  ASSERT_EQ(events.size(), 10'001u);
  for (int i = 0; i < 10'000; ++i) ASSERT_EQ(events[i], event_payload(i)) << i;
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(parser.pending_bytes(), 0u);
}

TEST(HttpClient, StreamPiecesArriveWithoutWaitingForMore) {
  Fixture f;
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  SseParser parser;
  std::vector<std::string> events;
  StreamHandler h;
  h.on_body = [&](std::string_view bytes) -> Awaitable<bool> {
    parser.feed(bytes, [&](const SseEvent& e) {
      events.push_back(e.data);
      boost::asio::post(f.server.worker_executor(0), [&f] {
        if (f.seen.gate != nullptr) f.seen.gate->cancel();
      });
    });
    co_return true;
  };
  auto req = get("/pingpong");
  auto r = run_client(ioc, client.stream(f.upstream(), req, h));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(events, (std::vector<std::string>{"ping0", "ping1", "ping2", "ping3", "ping4"}));
  EXPECT_EQ(f.seen.gates_opened_by_client, 5);
}

TEST(HttpClient, PoolReusesKeepAliveConnections) {
  Fixture f;
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  for (int i = 0; i < 10; ++i) {
    auto req = get("/hello");
    auto r = run_client(ioc, client.request(f.upstream(), req));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->body(), R"({"status":"ok"})");
  }
  EXPECT_EQ(client.stats().connects, 1u);
  EXPECT_EQ(client.stats().reused, 9u);
  client.close_idle();
  auto req = get("/hello");
  ASSERT_TRUE(run_client(ioc, client.request(f.upstream(), req)).has_value());
  EXPECT_EQ(client.stats().connects, 2u);
}

TEST(HttpClient, PoolTtlExpiresIdleConnections) {
  Fixture f;
  boost::asio::io_context ioc;
  ClientOptions options;
  options.pool_idle_ttl = 0ms;
  Client client(ioc.get_executor(), options);
  for (int i = 0; i < 3; ++i) {
    auto req = get("/hello");
    ASSERT_TRUE(run_client(ioc, client.request(f.upstream(), req)).has_value());
  }
  EXPECT_EQ(client.stats().connects, 3u);
  EXPECT_EQ(client.stats().reused, 0u);
}

TEST(HttpClient, PoolBoundClosesSurplusConnections) {
  Fixture f;
  boost::asio::io_context ioc;
  ClientOptions options;
  options.max_idle_per_upstream = 1;
  Client client(ioc.get_executor(), options);
  // Three concurrent requests need three connections; only one may stay pooled.
  std::vector<Request> reqs(3, get("/hello"));
  std::vector<std::future<Result<Response>>> futs;
  for (auto& req : reqs) {
    futs.push_back(boost::asio::co_spawn(ioc, client.request(f.upstream(), req), boost::asio::use_future));
  }
  ioc.run();
  for (auto& fut : futs) EXPECT_TRUE(fut.get().has_value());
  EXPECT_EQ(client.stats().connects, 3u);
  EXPECT_EQ(client.stats().pool_full_closes, 2u);
}

TEST(HttpClient, ConnectRefusedIsConnectFailed) {
  const llmd::testing::RefusedPort refused;  // connects are refused for the whole test
  const uint16_t port = refused.port();
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  auto req = get("/hello");
  auto r = run_client(ioc, client.request(Upstream{"127.0.0.1", port}, req));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kConnectFailed);
  EXPECT_EQ(client.stats().connect_failures, 1u);
}

TEST(HttpClient, ConnectTimeoutIsConnectFailed) {
  // A listener whose accept queue is full drops further SYNs, so a connect hangs.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    fillers.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);  // let the handshakes settle; not a timing assertion

  boost::asio::io_context ioc;
  ClientOptions options;
  options.connect_timeout = 200ms;
  Client client(ioc.get_executor(), options);
  auto req = get("/hello");
  auto r = run_client(ioc, client.request(Upstream{"127.0.0.1", ntohs(addr.sin_port)}, req));
  for (int fd : fillers) ::close(fd);
  ::close(listener);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kConnectFailed) << r.error().message;
  EXPECT_EQ(client.stats().timeouts, 1u);
}

TEST(HttpClient, FirstByteTimeoutAndServerSeesClientGone) {
  Fixture f;
  boost::asio::io_context ioc;
  ClientOptions options;
  options.first_byte_timeout = 200ms;
  Client client(ioc.get_executor(), options);
  auto req = get("/never");
  auto r = run_client(ioc, client.request(f.upstream(), req));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout) << r.error().message;
  EXPECT_EQ(client.stats().timeouts, 1u);
  // The server noticed the close while its handler was waiting and cancelled it.
  EXPECT_TRUE(f.seen.gone.get_future().get());
  EXPECT_EQ(f.server.stats().client_disconnects, 1u);
}

TEST(HttpClient, CancellingAStreamAbortsItAndServerSeesClientGone) {
  Fixture f;
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  boost::asio::cancellation_signal cancel;
  SseParser parser;
  int received = 0;
  StreamHandler h;
  h.on_body = [&](std::string_view bytes) -> Awaitable<bool> {
    parser.feed(bytes, [&](const SseEvent&) { ++received; });
    // After a few events, the consumer's owner cancels it (from outside the stream).
    if (received >= 3) boost::asio::post(ioc, [&] { cancel.emit(boost::asio::cancellation_type::terminal); });
    co_return true;
  };
  auto req = get("/endless");
  auto fut =
      boost::asio::co_spawn(ioc, client.stream(f.upstream(), req, h),
                            boost::asio::bind_cancellation_slot(cancel.slot(), boost::asio::use_future));
  ioc.run();
  auto r = fut.get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kCancelled) << r.error().message;
  EXPECT_GE(received, 3);
  EXPECT_EQ(client.stats().cancellations, 1u);
  EXPECT_TRUE(f.seen.gone.get_future().get());
  // The aborted connection was discarded, not pooled.
  auto again = get("/hello");
  ASSERT_TRUE(run_client(ioc, client.request(f.upstream(), again)).has_value());
  EXPECT_EQ(client.stats().connects, 2u);
  EXPECT_EQ(client.stats().reused, 0u);
}

TEST(HttpClient, OnBodyFalseStopsTheStream) {
  Fixture f;
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  int pieces = 0;
  StreamHandler h;
  h.on_body = [&](std::string_view) -> Awaitable<bool> {
    ++pieces;
    co_return false;
  };
  auto req = get("/endless");
  auto r = run_client(ioc, client.stream(f.upstream(), req, h));
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(pieces, 1);
  EXPECT_TRUE(f.seen.gone.get_future().get());
}

TEST(HttpClient, ResponseOverTheBodyBoundIsResourceExhausted) {
  Fixture f;
  boost::asio::io_context ioc;
  ClientOptions options;
  options.max_response_body_bytes = 100;
  Client client(ioc.get_executor(), options);
  auto req = get("/big");
  auto r = run_client(ioc, client.request(f.upstream(), req));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted) << r.error().message;
}

// A hand-made peer on a background thread: accepts connections and runs `script` on each, in order.
class ScriptedPeer {
 public:
  using Script = std::function<void(int fd)>;
  explicit ScriptedPeer(std::vector<Script> scripts) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, scripts = std::move(scripts)] {
      for (const auto& script : scripts) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        script(c);
      }
    });
  }
  ~ScriptedPeer() {
    // Wakes an accept() still waiting for a connection that a failed test never made.
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  uint16_t port() const { return port_; }

  // Reads one request head (and nothing more; the tests send no bodies).
  static std::string read_head(int fd) {
    std::string in;
    char ch;
    while (in.find("\r\n\r\n") == std::string::npos && ::recv(fd, &ch, 1, 0) == 1) in.push_back(ch);
    return in;
  }
  static void send_all(int fd, std::string_view s) { ::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST(HttpClient, StalePooledConnectionIsRetriedOnAFreshOne) {
  ScriptedPeer peer({
      [](int fd) {
        ScriptedPeer::read_head(fd);
        ScriptedPeer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst");
        // The next request on this connection finds it closed without an answer.
        ScriptedPeer::read_head(fd);
        ::close(fd);
      },
      [](int fd) {
        ScriptedPeer::read_head(fd);
        ScriptedPeer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond");
        ::close(fd);
      },
  });
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  const Upstream up{"127.0.0.1", peer.port()};
  auto first = get("/a");
  auto r1 = run_client(ioc, client.request(up, first));
  ASSERT_TRUE(r1.has_value()) << r1.error().message;
  EXPECT_EQ(r1->body(), "first");
  auto second = get("/b");
  auto r2 = run_client(ioc, client.request(up, second));
  ASSERT_TRUE(r2.has_value()) << r2.error().message;
  EXPECT_EQ(r2->body(), "second");
  EXPECT_EQ(client.stats().reused, 1u);
  EXPECT_EQ(client.stats().connects, 2u);
}

TEST(HttpClient, GarbageResponseIsProtocolError) {
  ScriptedPeer peer({[](int fd) {
    ScriptedPeer::read_head(fd);
    ScriptedPeer::send_all(fd, "NOT HTTP AT ALL\r\n\r\n");
    ::close(fd);
  }});
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  auto req = get("/x");
  auto r = run_client(ioc, client.request(Upstream{"127.0.0.1", peer.port()}, req));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kProtocol) << r.error().message;
}

TEST(HttpClient, ChunkedResponseWithInterim100) {
  ScriptedPeer peer({[](int fd) {
    ScriptedPeer::read_head(fd);
    ScriptedPeer::send_all(
        fd,
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n");
    ::close(fd);
  }});
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  auto req = get("/x");
  auto r = run_client(ioc, client.request(Upstream{"127.0.0.1", peer.port()}, req));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->result(), Status::ok);
  EXPECT_EQ(r->body(), "abcdefg");
}

TEST(HttpClient, HostNamesAreResolved) {
  Fixture f;
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  auto req = get("/echo");
  auto r = run_client(ioc, client.request(Upstream{"localhost", f.server.port()}, req));
  // localhost may resolve to ::1 first; the client tries every address.
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_NE(r->body().find("Host: localhost:" + std::to_string(f.server.port()) + "\n"), std::string::npos)
      << r->body();
  EXPECT_EQ(req.find(Field::host), req.end()) << "the caller's request is not changed";
}

TEST(HttpClient, RequestGoesOutWithItsOwnFramingAndNoHopByHopHeaders) {
  Fixture f;
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  Request req{Verb::post, "/echo/x?a=1", 11};
  req.set(Field::host, "api.example");
  req.set(Field::connection, "close");
  req.set(Field::keep_alive, "timeout=5");
  req.set(Field::te, "trailers");
  req.set(Field::content_length, "999");
  req.set("X-Custom", "kept");
  req.body() = R"({"prompt":"hi"})";
  const Request before = req;
  for (int i = 0; i < 2; ++i) {
    auto r = run_client(ioc, client.request(f.upstream(), req));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(
        r->body(),
        "POST /echo/x?a=1\nHost: api.example\nX-Custom: kept\nContent-Length: 15\n\n{\"prompt\":\"hi\"}");
  }
  // Connection: close was not sent, so the second request reused the connection.
  EXPECT_EQ(client.stats().connects, 1u);
  EXPECT_EQ(client.stats().reused, 1u);
  EXPECT_EQ(req.base().method(), before.base().method());
  EXPECT_EQ(std::distance(req.begin(), req.end()), std::distance(before.begin(), before.end()));
  EXPECT_EQ(req[Field::content_length], "999");
}

TEST(HttpClient, RequestsLargerThanTheSocketBuffersArriveWhole) {
  // Both requests are far larger than loopback's socket buffers, so the first non-blocking send is
  // cut short: inside the 16 MB head of the first (512 fields of 32 KB; Beast caps a field at 64 KB),
  // inside the body of the second. The rest must follow from where it stopped.
  auto read_request = [](int fd) {
    std::string in;
    char buf[64 * 1024];
    size_t want = std::string::npos;
    while (in.size() < want) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      const size_t scan_from = in.size() < 3 ? 0 : in.size() - 3;
      in.append(buf, static_cast<size_t>(n));
      const size_t end = want == std::string::npos ? in.find("\r\n\r\n", scan_from) : std::string::npos;
      if (end != std::string::npos) {
        const size_t at = in.find("Content-Length: ");
        if (at != std::string::npos)
          want = end + 4 + std::stoull(in.substr(at + 16, in.find('\r', at) - at - 16));
      }
    }
    return in;
  };
  ScriptedPeer peer({[&read_request](int fd) {
    for (int i = 0; i < 2; ++i) {
      const std::string in = read_request(fd);
      const size_t end = in.find("\r\n\r\n");
      const std::string head = end == std::string::npos ? "" : in.substr(0, end + 4);
      const std::string body = end == std::string::npos ? "" : in.substr(end + 4);
      const bool intact = body.find_first_not_of('b') == std::string::npos;
      const std::string answer =
          std::to_string(head.size()) + " " + std::to_string(body.size()) + (intact ? " intact" : " damaged");
      ScriptedPeer::send_all(
          fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(answer.size()) + "\r\n\r\n" + answer);
    }
    ::close(fd);
  }});
  boost::asio::io_context ioc;
  ClientOptions options;
  options.first_byte_timeout = std::chrono::seconds(10);  // a request cut short fails, not hangs
  Client client(ioc.get_executor(), options);
  const Upstream up{"127.0.0.1", peer.port()};
  constexpr size_t kBig = 16 << 20;
  constexpr size_t kFields = 512;
  const std::string value(kBig / kFields, 'h');
  Request big_head{Verb::post, "/x", 11};
  std::string fields;
  for (size_t i = 0; i < kFields; ++i) {
    const std::string name = "X-Big-" + std::to_string(i);
    big_head.insert(name, value);
    fields += name + ": " + value + "\r\n";
  }
  big_head.body() = std::string(1000, 'b');
  const std::string host = "Host: 127.0.0.1:" + std::to_string(peer.port()) + "\r\n";
  const size_t head1 = ("POST /x HTTP/1.1\r\n" + fields + host + "Content-Length: 1000\r\n\r\n").size();
  const size_t head2 =
      ("POST /x HTTP/1.1\r\n" + host + "Content-Length: " + std::to_string(2 * kBig) + "\r\n\r\n").size();
  auto r1 = run_client(ioc, client.request(up, big_head));
  ASSERT_TRUE(r1.has_value()) << r1.error().message;
  EXPECT_EQ(r1->body(), std::to_string(head1) + " 1000 intact");

  Request big_body{Verb::post, "/x", 11};
  big_body.body() = std::string(2 * kBig, 'b');
  auto r2 = run_client(ioc, client.request(up, big_body));
  ASSERT_TRUE(r2.has_value()) << r2.error().message;
  EXPECT_EQ(r2->body(), std::to_string(head2) + " " + std::to_string(2 * kBig) + " intact");
  EXPECT_EQ(client.stats().connects, 1u);
}

TEST(HttpClient, RelayKeepsTheHeadInWireFormWithoutHopByHopHeaders) {
  ScriptedPeer peer({[](int fd) {
    ScriptedPeer::read_head(fd);
    ScriptedPeer::send_all(
        fd,
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n"
        "Keep-Alive: timeout=5\r\nX-Upstream: yes\r\nTransfer-Encoding: chunked\r\n"
        "Date: Sat, 21 Nov 2026 00:00:00 GMT\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n");
    ScriptedPeer::read_head(fd);
    ScriptedPeer::send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 42\r\nServer: up\r\n\r\n");
    ::close(fd);
  }});
  boost::asio::io_context ioc;
  Client client(ioc.get_executor());
  const Upstream up{"127.0.0.1", peer.port()};
  RelayResponse out;
  auto req = get("/x");
  auto r = run_client(ioc, client.relay(up, req, out));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(out.head.status, 201u);
  EXPECT_EQ(out.head.lines(),
            "Content-Type: application/json\r\nX-Upstream: yes\r\nDate: Sat, 21 Nov 2026 00:00:00 GMT\r\n");
  EXPECT_TRUE(out.head.has_date());
  EXPECT_FALSE(out.head.has_server());
  EXPECT_FALSE(out.head.has_content_length());
  EXPECT_EQ(out.body, "abcdefg");

  // An answer to HEAD keeps its Content-Length: it is the length of the GET body.
  Request head_req{Verb::head, "/x", 11};
  r = run_client(ioc, client.relay(up, head_req, out));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(out.head.status, 200u);
  EXPECT_EQ(out.head.lines(), "Content-Length: 42\r\nServer: up\r\n");
  EXPECT_TRUE(out.head.has_content_length());
  EXPECT_TRUE(out.head.has_server());
  EXPECT_EQ(out.body, "");
  EXPECT_EQ(client.stats().reused, 1u);
}

}  // namespace
}  // namespace llmd::http
