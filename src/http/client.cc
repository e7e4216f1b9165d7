#include "http/client.h"

#include <array>
#include <cerrno>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <sys/socket.h>

#include "common/host_port.h"

namespace llmd::http {

namespace {

using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using asio::as_tuple;
using asio::use_awaitable;

constexpr TimePoint kNever = TimePoint::max();
// Body bytes handed to StreamHandler::on_body at most per call.
constexpr size_t kStreamPiece = 64 * 1024;
// Initial capacity of a connection's read buffer.
constexpr size_t kReadBuffer = 32 * 1024;

}  // namespace

namespace client_detail {

// One upstream connection. Shared by the exchange using it and its watchdog's pending wait.
struct Conn {
  // Beast sizes each read by the buffer's free capacity, so start with room for large reads.
  explicit Conn(const asio::any_io_executor& ex) : sock(ex), watchdog(ex) { buf.reserve(kReadBuffer); }

  tcp::socket sock;
  beast::flat_buffer buf;
  asio::steady_timer watchdog;
  std::optional<tcp::resolver> resolver;  // only while resolving a host name
  std::unique_ptr<char[]> piece;          // stream() body buffer, kept with the connection
  std::string head;                       // the request head being written (capacity kept)
  TimePoint deadline = kNever;            // when the current phase times out
  TimePoint armed_for = kNever;           // expiry of the pending watchdog wait
  TimePoint idle_since{};
  bool timed_out = false;
};

}  // namespace client_detail

using client_detail::Conn;
using ConnPtr = std::shared_ptr<Conn>;

namespace {

// A timeout that costs one timer wait per phase rather than per read: moving the deadline later
// only updates a field, and the wait, when it fires early, re-arms for the rest.
void arm_watchdog(const ConnPtr& c, TimePoint at) {
  c->armed_for = at;
  c->watchdog.expires_at(at);
  c->watchdog.async_wait([c, at](beast::error_code ec) {
    if (ec || c->armed_for != at) return;  // re-armed or disarmed meanwhile
    c->armed_for = kNever;
    if (c->deadline == kNever) return;
    if (SteadyClock::now() >= c->deadline) {
      c->timed_out = true;
      beast::error_code ig;
      c->sock.cancel(ig);
      if (c->resolver) c->resolver->cancel();
    } else {
      arm_watchdog(c, c->deadline);
    }
  });
}

void set_deadline(const ConnPtr& c, std::chrono::milliseconds timeout) {
  c->deadline = SteadyClock::now() + timeout;
  if (c->armed_for <= c->deadline) return;  // the pending wait fires first and re-arms
  arm_watchdog(c, c->deadline);
}

void disarm(const ConnPtr& c) {
  c->deadline = kNever;
  if (c->armed_for != kNever) {
    c->armed_for = kNever;
    c->watchdog.cancel();
  }
}

void close_conn(const ConnPtr& c) {
  disarm(c);
  beast::error_code ig;
  c->sock.shutdown(tcp::socket::shutdown_both, ig);
  c->sock.close(ig);
}

// An exchange given up on (its caller went away, or it timed out): reset rather than close. The
// model server sees the reset as it would a close (it stops the request), and this side keeps no
// TIME_WAIT entry, which a proxy abandoning thousands of exchanges would otherwise pile up until
// its ephemeral ports run out.
void abort_conn(const ConnPtr& c) {
  beast::error_code ig;
  c->sock.set_option(tcp::socket::linger(true, 0), ig);
  disarm(c);
  c->sock.close(ig);
}

// A pooled connection is usable when the peer has neither closed it nor sent anything unasked.
bool still_open(Conn& c) {
  char byte;
  const ssize_t r = ::recv(c.sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool is_stale_error(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted;
}

// How one attempt ended: `retry` when a reused connection turned out stale before any response
// byte, so a fresh connection may safely take the request.
struct Attempt {
  Result<void> result;
  bool retry = false;
};

// The request head in wire form. Hand-written rather than Beast's serializer: that one walks the
// fields through several layers of buffer-sequence adaptors on every write, and the framing headers
// it would need set first (Content-Length, keep-alive) mean changing the caller's request. The body
// is complete, so it always goes with Content-Length.
void serialize_request(const Request& req, const Upstream& up, std::string& out) {
  out.clear();
  out.append(req.method_string()).push_back(' ');
  out.append(req.target()).append(" HTTP/1.1\r\n");
  bool has_host = false;
  for (const auto& f : req) {
    const Field name = f.name();
    if (is_hop_by_hop(name) || name == Field::content_length) continue;
    has_host |= name == Field::host;
    out.append(f.name_string()).append(": ").append(f.value()).append("\r\n");
  }
  if (!has_host) {
    out.append("Host: ").append(up.host);
    if (up.port != 80) {
      out.push_back(':');
      append_uint(out, up.port);
    }
    out.append("\r\n");
  }
  const Verb m = req.method();
  if (!req.body().empty() || m == Verb::post || m == Verb::put || m == Verb::patch || m == Verb::options) {
    out.append("Content-Length: ");
    append_uint(out, req.body().size());
    out.append("\r\n");
  }
  out.append("\r\n");
}

// Parses a response straight into a RelayResponse: Beast's parser with our own callbacks, so no
// field container is built for a head that is only relayed.
class RelayParser final : public bhttp::basic_parser<false> {
 public:
  RelayParser(RelayResponse& out, bool head_request) : out_(out), head_request_(head_request) {
    out_.head.clear();
    out_.body.clear();
  }
  unsigned status() const { return out_.head.status; }

 private:
  void on_request_impl(Verb, beast::string_view, beast::string_view, int, beast::error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override {
    out_.head.status = static_cast<unsigned>(code);
  }
  void on_field_impl(Field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code&) override {
    if (is_hop_by_hop(name) || (name == Field::content_length && !head_request_)) return;
    out_.head.add(name_string, value);
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    // The parser has checked the length against its body limit.
    if (length) out_.body.reserve(static_cast<size_t>(*length));
  }
  size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    out_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  RelayResponse& out_;
  bool head_request_;
};

// What an exchange does with the response: read it whole into a Response, stream it through a
// StreamHandler, or read it whole for relaying.
enum class Mode { kWhole, kStream, kRelay };

template <Mode kMode>
using ParserFor =
    std::conditional_t<kMode == Mode::kRelay, RelayParser,
                       bhttp::response_parser<std::conditional_t<kMode == Mode::kStream, bhttp::buffer_body,
                                                                 bhttp::string_body>>>;

// Where an exchange puts the response: one of these, by mode.
struct Sink {
  Response* whole = nullptr;
  StreamHandler* handler = nullptr;
  RelayResponse* relay = nullptr;
};

}  // namespace

struct Client::Impl {
  struct Pool {
    std::vector<ConnPtr> idle;  // most recently used last
  };

  Impl(asio::any_io_executor ex, ClientOptions o) : executor(std::move(ex)), options(o) {}

  Pool& pool_for(const Upstream& up) {
    key_scratch.assign(up.host);
    key_scratch.push_back(':');
    key_scratch.append(std::to_string(up.port));
    auto it = pools.find(key_scratch);
    if (it == pools.end()) it = pools.emplace(key_scratch, Pool{}).first;
    return it->second;
  }

  ConnPtr take_pooled(const Upstream& up);
  void release(const Upstream& up, const ConnPtr& c);
  Awaitable<Result<ConnPtr>> connect(const Upstream& up);
  Error fail(const ConnPtr& c, const beast::error_code& ec, bool cancelled, std::string_view what,
             const Upstream& up);

  template <Mode kMode>
  Awaitable<Attempt> attempt(const Upstream& up, const ConnPtr& c, bool reused, const Request& req,
                             Sink sink);
  // `up` by value: relay() hands this coroutine straight to its caller, after its own argument is gone.
  template <Mode kMode>
  Awaitable<Result<void>> perform(Upstream up, const Request& req, Sink sink);

  asio::any_io_executor executor;
  ClientOptions options;
  ClientStats stats;
  std::unordered_map<std::string, Pool> pools;
  std::string key_scratch;
};

ConnPtr Client::Impl::take_pooled(const Upstream& up) {
  Pool& pool = pool_for(up);
  const TimePoint now = SteadyClock::now();
  while (!pool.idle.empty()) {
    ConnPtr c = std::move(pool.idle.back());
    pool.idle.pop_back();
    if (now - c->idle_since > options.pool_idle_ttl) {
      // The newest idle connection is too old, so all the older ones are as well.
      close_conn(c);
      for (auto& old : pool.idle) close_conn(old);
      pool.idle.clear();
      break;
    }
    if (now - c->idle_since > options.pool_check_after && !still_open(*c)) {
      close_conn(c);
      continue;
    }
    ++stats.reused;
    return c;
  }
  return nullptr;
}

void Client::Impl::release(const Upstream& up, const ConnPtr& c) {
  // Disarmed rather than left pending: an idle pooled connection must not keep its io_context
  // from running out of work.
  disarm(c);
  Pool& pool = pool_for(up);
  if (pool.idle.size() >= options.max_idle_per_upstream) {
    ++stats.pool_full_closes;
    close_conn(c);
    return;
  }
  c->idle_since = SteadyClock::now();
  pool.idle.push_back(c);
}

Error Client::Impl::fail(const ConnPtr& c, const beast::error_code& ec, bool cancelled, std::string_view what,
                         const Upstream& up) {
  const bool timed_out = c->timed_out;
  if (timed_out || cancelled || ec == asio::error::operation_aborted) {
    abort_conn(c);
  } else {
    close_conn(c);
  }
  const std::string where = " (" + host_port(up.host, up.port) + ")";
  if (timed_out) {
    ++stats.timeouts;
    return make_error(ErrorCode::kTimeout, std::string(what) + " timed out" + where);
  }
  if (cancelled || ec == asio::error::operation_aborted) {
    ++stats.cancellations;
    return make_error(ErrorCode::kCancelled, std::string(what) + " cancelled" + where);
  }
  if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit ||
      ec == bhttp::error::buffer_overflow) {
    return make_error(ErrorCode::kResourceExhausted, std::string(what) + ": response too large" + where);
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return make_error(ErrorCode::kProtocol, std::string(what) + ": bad response: " + ec.message() + where);
  }
  return make_error(ErrorCode::kIo, std::string(what) + ": " + ec.message() + where);
}

Awaitable<Result<ConnPtr>> Client::Impl::connect(const Upstream& up) {
  auto c = std::make_shared<Conn>(executor);
  set_deadline(c, options.connect_timeout);
  beast::error_code ec;
  bool cancelled = false;
  try {
    const auto address = asio::ip::make_address(up.host, ec);
    if (!ec) {
      std::tie(ec) = co_await c->sock.async_connect(tcp::endpoint(address, up.port), as_tuple(use_awaitable));
    } else {
      c->resolver.emplace(executor);
      auto [rec, results] =
          co_await c->resolver->async_resolve(up.host, std::to_string(up.port), as_tuple(use_awaitable));
      c->resolver.reset();
      ec = rec;
      if (!ec)
        std::tie(ec, std::ignore) = co_await asio::async_connect(c->sock, results, as_tuple(use_awaitable));
    }
  } catch (const boost::system::system_error& e) {
    // Thrown by an await after the caller was cancelled (the caller's throw_if_cancelled).
    ec = e.code();
    cancelled = true;
  }
  if (!ec) {
    disarm(c);
    ++stats.connects;
    beast::error_code ig;
    c->sock.set_option(tcp::no_delay(true), ig);
    // For the synchronous first try at writing a request: it must not block the thread.
    c->sock.non_blocking(true, ig);
    co_return c;
  }
  const bool timed_out = c->timed_out;
  close_conn(c);
  const std::string where = host_port(up.host, up.port);
  if (!timed_out && (cancelled || ec == asio::error::operation_aborted)) {
    ++stats.cancellations;
    co_return make_error(ErrorCode::kCancelled, "connect to " + where + " cancelled");
  }
  ++stats.connect_failures;
  if (timed_out) {
    ++stats.timeouts;
    co_return make_error(ErrorCode::kConnectFailed, "connect to " + where + " timed out");
  }
  co_return make_error(ErrorCode::kConnectFailed, "connect to " + where + ": " + ec.message());
}

template <Mode kMode>
Awaitable<Attempt> Client::Impl::attempt(const Upstream& up, const ConnPtr& c, bool reused,
                                         const Request& req, Sink sink) {
  using Parser = ParserFor<kMode>;
  constexpr bool kStream = kMode == Mode::kStream;
  c->timed_out = false;
  beast::error_code ec;
  bool got_response_bytes = false;
  try {
    set_deadline(c, options.first_byte_timeout);
    // Most requests fit the socket buffer: one non-blocking send, and no completion to wait for.
    serialize_request(req, up, c->head);
    const std::string_view body = req.body();
    std::array<asio::const_buffer, 2> out{asio::buffer(c->head), asio::buffer(body)};
    const size_t sent = c->sock.write_some(out, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) ec = {};
    if (!ec && sent < c->head.size() + body.size()) {
      out = unsent(c->head, body, sent);
      std::tie(ec, std::ignore) = co_await asio::async_write(c->sock, out, as_tuple(use_awaitable));
    }
    if (ec) {
      const bool retry = reused && !c->timed_out && is_stale_error(ec);
      co_return Attempt{fail(c, ec, false, "request write", up), retry};
    }

    std::optional<Parser> parser;
    auto new_parser = [&] {
      if constexpr (kMode == Mode::kRelay) {
        parser.emplace(*sink.relay, req.method() == Verb::head);
      } else if constexpr (kMode == Mode::kWhole) {
        if (!parser) {
          // Parse into the caller's response (its body keeps its capacity); the head starts empty.
          sink.whole->base() = ResponseHead{};
          sink.whole->body().clear();
          parser.emplace(std::move(*sink.whole));
        } else {
          parser.emplace();
        }
      } else {
        parser.emplace();
      }
      parser->header_limit(static_cast<std::uint32_t>(options.max_response_header_bytes));
      if constexpr (kStream) {
        parser->body_limit(boost::none);
      } else {
        parser->body_limit(options.max_response_body_bytes);
      }
      if constexpr (kMode == Mode::kRelay) parser->eager(true);
      if (req.method() == Verb::head) parser->skip(true);
    };
    auto status_of = [&]() -> unsigned {
      if constexpr (kMode == Mode::kRelay) {
        return parser->status();
      } else {
        return parser->get().result_int();
      }
    };
    new_parser();
    // The head; interim 1xx responses (other than 101) are skipped.
    for (;;) {
      while (!parser->is_header_done()) {
        std::tie(ec, std::ignore) =
            co_await bhttp::async_read_some(c->sock, c->buf, *parser, as_tuple(use_awaitable));
        if (ec == bhttp::error::need_buffer) ec = {};
        if (ec) {
          const bool retry =
              reused && !got_response_bytes && !parser->got_some() && !c->timed_out && is_stale_error(ec);
          co_return Attempt{fail(c, ec, false, "response head", up), retry};
        }
      }
      got_response_bytes = true;
      const unsigned code = status_of();
      if (code / 100 != 1 || code == 101) break;
      new_parser();
    }
    set_deadline(c, options.idle_timeout);

    if constexpr (kStream) {
      StreamHandler* handler = sink.handler;
      if (handler->on_head) {
        const bool go_on = co_await handler->on_head(parser->get().base());
        if (!go_on) {
          abort_conn(c);  // the caller gave up on the answer
          co_return Attempt{Result<void>{}, false};
        }
      }
      if (!c->piece) c->piece = std::make_unique<char[]>(kStreamPiece);
      // Our own read loop rather than http::async_read_some: that one keeps reading until the piece
      // buffer is full, while each arriving piece must be handed on at once. Eager parsing turns all
      // the chunks one read brought (many SSE events) into one on_body call.
      parser->eager(true);
      while (!parser->is_done()) {
        auto& piece = parser->get().body();
        piece.data = c->piece.get();
        piece.size = kStreamPiece;
        while (c->buf.size() > 0 && piece.size > 0 && !parser->is_done()) {
          const size_t used = parser->put(c->buf.data(), ec);
          c->buf.consume(used);
          if (ec == bhttp::error::need_more || ec == bhttp::error::need_buffer) {
            ec = {};
            break;
          }
          if (ec) co_return Attempt{fail(c, ec, false, "response body", up), false};
          if (used == 0) break;
        }
        const size_t n = kStreamPiece - piece.size;
        if (n > 0) {
          if (handler->on_body) {
            const bool go_on = co_await handler->on_body(std::string_view(c->piece.get(), n));
            if (!go_on) {
              abort_conn(c);  // the caller gave up on the answer
              co_return Attempt{Result<void>{}, false};
            }
          }
          auto cs = co_await asio::this_coro::cancellation_state;
          if (cs.cancelled() != asio::cancellation_type::none) {
            co_return Attempt{fail(c, asio::error::operation_aborted, true, "response body", up), false};
          }
          continue;
        }
        if (parser->is_done()) break;
        size_t got = 0;
        std::tie(ec, got) =
            co_await c->sock.async_read_some(c->buf.prepare(kReadBuffer), as_tuple(use_awaitable));
        c->buf.commit(got);
        if (ec == asio::error::eof) {
          // A body delimited by the close ends here; any other body is cut short.
          ec = {};
          parser->put_eof(ec);
          if (ec) co_return Attempt{fail(c, ec, false, "response body", up), false};
          continue;
        }
        if (ec) co_return Attempt{fail(c, ec, false, "response body", up), false};
        set_deadline(c, options.idle_timeout);
      }
    } else {
      while (!parser->is_done()) {
        std::tie(ec, std::ignore) =
            co_await bhttp::async_read_some(c->sock, c->buf, *parser, as_tuple(use_awaitable));
        if (ec) co_return Attempt{fail(c, ec, false, "response body", up), false};
        set_deadline(c, options.idle_timeout);
      }
    }

    const bool reusable = parser->keep_alive() && c->buf.size() == 0;
    if constexpr (kMode == Mode::kWhole) *sink.whole = parser->release();
    if (reusable) {
      release(up, c);
    } else {
      close_conn(c);
    }
    co_return Attempt{Result<void>{}, false};
  } catch (const boost::system::system_error& e) {
    // Thrown by an await after the caller was cancelled (the caller's throw_if_cancelled).
    ec = e.code();
  }
  co_return Attempt{fail(c, ec, true, "request", up), false};
}

template <Mode kMode>
Awaitable<Result<void>> Client::Impl::perform(Upstream up, const Request& req, Sink sink) {
  bool fresh_only = false;
  for (;;) {
    ConnPtr c = fresh_only ? nullptr : take_pooled(up);
    const bool reused = c != nullptr;
    if (!reused) {
      auto connected = co_await connect(up);
      if (!connected) co_return connected.error();
      c = std::move(*connected);
    }
    Attempt a = co_await attempt<kMode>(up, c, reused, req, sink);
    if (!a.retry) co_return std::move(a.result);
    // A stale keep-alive connection: the server closed it before reading this request.
    fresh_only = true;
  }
}

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), options)) {}

Client::~Client() { close_idle(); }

Awaitable<Result<Response>> Client::request(Upstream upstream, const Request& req) {
  Response res;
  auto r = co_await impl_->perform<Mode::kWhole>(std::move(upstream), req, Sink{.whole = &res});
  if (!r) co_return r.error();
  co_return res;
}

Awaitable<Result<void>> Client::stream(Upstream upstream, const Request& req, StreamHandler handler) {
  auto r = co_await impl_->perform<Mode::kStream>(std::move(upstream), req, Sink{.handler = &handler});
  co_return r;
}

// Not a coroutine: one frame fewer per request on the proxy's path.
Awaitable<Result<void>> Client::relay(Upstream upstream, const Request& req, RelayResponse& out) {
  return impl_->perform<Mode::kRelay>(std::move(upstream), req, Sink{.relay = &out});
}

void Client::close_idle() {
  for (auto& [key, pool] : impl_->pools) {
    for (auto& c : pool.idle) close_conn(c);
    pool.idle.clear();
  }
}

ClientStats Client::stats() const { return impl_->stats; }

}  // namespace llmd::http
