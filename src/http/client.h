#pragma once
// HTTP/1.1 client for one worker thread: keep-alive connection pools per upstream, connect /
// first-byte / idle timeouts, streaming responses, and cancellation through asio's per-operation
// cancellation (a cancelled caller coroutine aborts the exchange and the connection is discarded).
// Not thread-safe: create one Client per io_context.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/host_port.h"
#include "http/types.h"

namespace llmd::http {

struct Upstream {
  std::string host;  // IP address or name
  uint16_t port = 0;
  std::string key() const { return host_port(host, port); }
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{2'000};
  // From the request being written to the response head arriving.
  std::chrono::milliseconds first_byte_timeout{60'000};
  // Longest gap between body bytes once the response has started.
  std::chrono::milliseconds idle_timeout{60'000};
  size_t max_idle_per_upstream = 256;               // pooled idle connections kept per upstream
  std::chrono::milliseconds pool_idle_ttl{30'000};  // idle pooled connections older than this are closed
  // A pooled connection idle for longer than this is checked (one non-blocking peek) for a close by
  // the peer before reuse. One used more recently is reused unchecked: if the peer did close it,
  // the attempt fails before any response byte and is retried on a fresh connection.
  std::chrono::milliseconds pool_check_after{1'000};
  size_t max_response_header_bytes = 64 * 1024;
  size_t max_response_body_bytes = 256 * 1024 * 1024;  // for request(); stream() is unbounded
};

struct ClientStats {
  uint64_t connects = 0;
  uint64_t connect_failures = 0;
  uint64_t reused = 0;            // requests served on a pooled connection
  uint64_t pool_full_closes = 0;  // idle connections closed because the pool was at its bound
  uint64_t timeouts = 0;
  uint64_t cancellations = 0;
};

// Callbacks for streaming a response. on_head runs once; on_body for each piece of body bytes as
// it arrives (chunk framing removed). Returning false from either stops the exchange (the
// connection is then closed, not pooled).
struct StreamHandler {
  std::function<Awaitable<bool>(const ResponseHead& head)> on_head;
  std::function<Awaitable<bool>(std::string_view body_bytes)> on_body;
};

// A response read for relaying (Client::relay): the head in wire form without the hop-by-hop
// headers (Connection, Keep-Alive, Transfer-Encoding, ...) and without Content-Length (kept only in an
// answer to HEAD), and the whole body with chunk framing removed.
struct RelayResponse {
  WireHead head;
  std::string body;
};

class Client {
 public:
  Client(asio::any_io_executor executor, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends `req` and reads the whole response. The request goes out as HTTP/1.1 with its headers
  // except the hop-by-hop ones and its framing: Content-Length is the body's, Host is added when
  // missing, and the connection is kept alive. `req` is not changed, so a caller may retry it
  // elsewhere.
  // Errors: kConnectFailed when no connection could be made and no byte was sent (safe to retry
  // elsewhere), kTimeout, kCancelled, kProtocol, kResourceExhausted (response too large), kIo.
  // `upstream` is taken by value: the coroutine starts lazily, after a temporary argument is gone.
  // `req` must outlive the call.
  Awaitable<Result<Response>> request(Upstream upstream, const Request& req);

  // Sends `req` and streams the response through `handler`. Same errors as request().
  Awaitable<Result<void>> stream(Upstream upstream, const Request& req, StreamHandler handler);

  // Sends `req` and reads the whole response into `out` for relaying to a client (out's buffers keep
  // their capacity). Same errors as request(); `out` must outlive the call.
  Awaitable<Result<void>> relay(Upstream upstream, const Request& req, RelayResponse& out);

  // Closes every pooled connection.
  void close_idle();
  ClientStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmd::http
