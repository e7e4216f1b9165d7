#pragma once
// HTTP/1.1 server: N worker threads, each with its own io_context and its own SO_REUSEPORT
// acceptor (shared nothing). Handlers are C++20 coroutines. Supports keep-alive, header/body
// limits (431/413), read and idle timeouts, chunked request bodies, chunked and SSE streaming
// responses flushed per write, client-disconnect cancellation, and graceful drain.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "http/types.h"

namespace llmd::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;     // 0: pick a free port (see Server::port()).
  unsigned threads = 0;  // 0: std::thread::hardware_concurrency().
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 16 * 1024 * 1024;
  // The whole request (headers and body) must arrive within this; drops slowloris clients.
  std::chrono::milliseconds read_timeout{30'000};
  // A keep-alive connection with no request in progress is closed after this.
  std::chrono::milliseconds idle_timeout{60'000};
  // A single write to a client (one response or one stream chunk) must finish within this.
  std::chrono::milliseconds write_timeout{30'000};
  // On drain, in-flight requests get this long to finish before connections are closed.
  std::chrono::milliseconds drain_timeout{10'000};
  // Bound on concurrently open connections per worker; further accepts are closed at once.
  size_t max_connections_per_worker = 16'384;
  // Seastar-style polling: a worker that runs out of work keeps polling its sockets before it
  // blocks in epoll_wait, for an adaptive window of at most this long (http/poll_window.h): it
  // grows while events come back within this bound and halves after each longer gap, so an idle
  // worker soon sleeps at once. Polling saves the sleep and wake-up per event (tens to hundreds of µs
  // on a VM) at the cost of CPU spent polling (ServerStats::poll_seconds). 0: never poll.
  std::chrono::microseconds busy_poll{0};
  std::string server_header = "llmd";
  // Seeds the workers' Rng (worker i: seed + i), which makes the x-request-id of the server's own
  // error replies when the client sent none.
  uint64_t seed = 0x6c6c6d64;
};

// The sink a handler writes its response to. Either send() once, or begin_stream(), any number
// of write()s, then finish(). Every call returns false once the client is gone; the handler
// should then stop. If a handler returns without responding, the server sends a 500.
class Responder {
 public:
  virtual ~Responder() = default;
  virtual Awaitable<bool> send(Response res) = 0;
  // send() for a head already in wire form (a proxy relaying an upstream's answer). The server adds
  // Server and Date when the head lacks them, and its own framing: Content-Length from `body` (unless
  // the head carries one, as an answer to HEAD does) and Connection.
  virtual Awaitable<bool> send_relayed(const WireHead& head, std::string_view body) = 0;
  // Starts a chunked response with this head (status and headers; Transfer-Encoding is set).
  virtual Awaitable<bool> begin_stream(ResponseHead head) = 0;
  // Writes one chunk and hands it to the socket at once (never held back for more data). If the
  // socket is still busy with earlier chunks, this one joins the next write; past a bounded backlog
  // the call waits for it to drain.
  virtual Awaitable<bool> write(std::string_view data) = 0;
  // Writes one Server-Sent Event ("data: <data>\n\n") as write() does. Before begin_stream() it
  // starts a 200 text/event-stream response.
  virtual Awaitable<bool> write_sse(std::string_view data) = 0;
  // Ends the stream and waits until every byte has been handed to the socket. A handler that
  // returns mid-stream gets this done for it (unless it called abort() or threw: then the stream is cut).
  virtual Awaitable<bool> finish() = 0;
  // True once a response (or stream head) has been sent: bytes have reached the client.
  virtual bool started() const = 0;
  // True once the client disconnected (detected while the handler runs).
  virtual bool client_gone() const = 0;
  // The remote address "ip:port".
  virtual const std::string& peer() const = 0;
  // Index of the server worker running the handler (0 .. Server::worker_count() - 1), for per-worker
  // state (connection pools, counters) kept in a vector indexed by worker.
  virtual unsigned worker() const = 0;
  // Ends the response abnormally: once the handler returns, the connection is closed without the
  // stream's final chunk (or, before anything was sent, without a response), so the client sees the
  // truncation instead of a complete answer. For a proxy whose upstream failed mid-response.
  virtual void abort() = 0;
};

// A handler runs on the worker thread that accepted the connection. It is cancelled (asio terminal
// cancellation of the operation it awaits) when the client disconnects or the server's drain deadline
// passes.
using Handler = std::function<Awaitable<void>(Request& req, Responder& res)>;

// Routing by method and exact path, or by path prefix; unmatched requests go to the fallback
// (default: 404 in OpenAI error format; 405 when the path exists for another method).
class Router {
 public:
  Router();
  // Exact routes; a HEAD request falls back to the GET route of the same path.
  void add(Verb method, std::string path, Handler handler);
  // Matches any method whose path starts with `prefix`; longer prefixes win.
  void add_prefix(std::string prefix, Handler handler);
  void set_fallback(Handler handler);
  // Returns the handler for this request (never null).
  const Handler& route(Verb method, std::string_view target) const;

 private:
  struct Exact {
    Verb method;
    std::string path;
    Handler handler;
  };
  struct Prefix {
    std::string prefix;
    Handler handler;
  };
  std::vector<Exact> exact_;
  std::vector<Prefix> prefixes_;
  Handler fallback_;
  Handler method_not_allowed_;
};

// Counters the server keeps; read with Server::stats().
struct ServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_rejected = 0;  // over max_connections_per_worker
  uint64_t requests = 0;
  uint64_t bad_requests = 0;       // 400
  uint64_t headers_too_large = 0;  // 431
  uint64_t bodies_too_large = 0;   // 413
  uint64_t read_timeouts = 0;
  uint64_t idle_closes = 0;
  uint64_t client_disconnects = 0;  // detected while a handler ran
  uint64_t write_timeouts = 0;
  uint64_t backpressure_waits = 0;  // a stream write waited for queued output to drain
  uint64_t handler_errors = 0;      // a handler threw (500, or the stream was cut)
  uint64_t drain_kills = 0;         // connections cut at the drain deadline
  uint64_t poll_catches = 0;        // a worker out of work found its next event by polling
  uint64_t sleeps = 0;              // ... or blocked in epoll_wait for it
  double poll_seconds = 0;          // time workers spent polling (busy_poll)
};

class Server {
 public:
  Server(ServerOptions options, Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the worker threads. Fails (kIo) when the address cannot be bound.
  Result<void> start();
  // The bound port (after start()).
  uint16_t port() const;
  unsigned worker_count() const;
  // The executor of worker `i`, for per-worker state set up before or after start().
  asio::any_io_executor worker_executor(unsigned i);

  // Stops accepting, lets in-flight requests finish (up to drain_timeout), then closes
  // connections and stops the workers. Thread-safe and idempotent; returns at once.
  void drain();
  // Blocks until every worker has stopped.
  void wait();
  // start() must have succeeded. Blocks until SIGINT or SIGTERM, then drains and waits.
  void run_until_signal();

  ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmd::http
