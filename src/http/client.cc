#include "http/client.h"

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
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <sys/socket.h>

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

  template <bool kStream>
  Awaitable<Attempt> attempt(const Upstream& up, const ConnPtr& c, bool reused, Request& req, Response* out,
                             StreamHandler* handler);
  template <bool kStream>
  Awaitable<Result<void>> perform(const Upstream& up, Request& req, Response* out, StreamHandler* handler);

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
  close_conn(c);
  const std::string where = " (" + up.host + ":" + std::to_string(up.port) + ")";
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
    co_return c;
  }
  const bool timed_out = c->timed_out;
  close_conn(c);
  const std::string where = up.host + ":" + std::to_string(up.port);
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

template <bool kStream>
Awaitable<Attempt> Client::Impl::attempt(const Upstream& up, const ConnPtr& c, bool reused, Request& req,
                                         Response* out, StreamHandler* handler) {
  using Body = std::conditional_t<kStream, bhttp::buffer_body, bhttp::string_body>;
  using Parser = bhttp::response_parser<Body>;
  c->timed_out = false;
  beast::error_code ec;
  bool got_response_bytes = false;
  try {
    set_deadline(c, options.first_byte_timeout);
    std::tie(ec, std::ignore) = co_await bhttp::async_write(c->sock, req, as_tuple(use_awaitable));
    if (ec) {
      const bool retry = reused && !c->timed_out && is_stale_error(ec);
      co_return Attempt{fail(c, ec, false, "request write", up), retry};
    }

    std::optional<Parser> parser;
    auto new_parser = [&] {
      if constexpr (!kStream) {
        if (out != nullptr && !parser) {
          // Parse into the caller's response (its body keeps its capacity); the head starts empty.
          out->base() = ResponseHead{};
          out->body().clear();
          parser.emplace(std::move(*out));
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
      if (req.method() == Verb::head) parser->skip(true);
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
      const unsigned code = parser->get().result_int();
      if (code / 100 != 1 || code == 101) break;
      new_parser();
    }
    set_deadline(c, options.idle_timeout);

    if constexpr (kStream) {
      if (handler->on_head) {
        const bool go_on = co_await handler->on_head(parser->get().base());
        if (!go_on) {
          close_conn(c);
          co_return Attempt{Result<void>{}, false};
        }
      }
      if (!c->piece) c->piece = std::make_unique<char[]>(kStreamPiece);
      // Our own read loop rather than http::async_read_some: that one keeps reading until the piece
      // buffer is full, while each arriving piece must be handed on at once. Eager parsing turns all
      // the chunks one read brought (many SSE events) into one on_body call.
      parser->eager(true);
      while (!parser->is_done()) {
        auto& body = parser->get().body();
        body.data = c->piece.get();
        body.size = kStreamPiece;
        while (c->buf.size() > 0 && body.size > 0 && !parser->is_done()) {
          const size_t used = parser->put(c->buf.data(), ec);
          c->buf.consume(used);
          if (ec == bhttp::error::need_more || ec == bhttp::error::need_buffer) {
            ec = {};
            break;
          }
          if (ec) co_return Attempt{fail(c, ec, false, "response body", up), false};
          if (used == 0) break;
        }
        const size_t n = kStreamPiece - body.size;
        if (n > 0) {
          if (handler->on_body) {
            const bool go_on = co_await handler->on_body(std::string_view(c->piece.get(), n));
            if (!go_on) {
              close_conn(c);
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
    if constexpr (!kStream) *out = parser->release();
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

template <bool kStream>
Awaitable<Result<void>> Client::Impl::perform(const Upstream& up, Request& req, Response* out,
                                              StreamHandler* handler) {
  if (req.find(Field::host) == req.end()) {
    req.set(Field::host, up.port == 80 ? up.host : up.host + ":" + std::to_string(up.port));
  }
  req.keep_alive(true);
  req.prepare_payload();
  bool fresh_only = false;
  for (;;) {
    ConnPtr c = fresh_only ? nullptr : take_pooled(up);
    const bool reused = c != nullptr;
    if (!reused) {
      auto connected = co_await connect(up);
      if (!connected) co_return connected.error();
      c = std::move(*connected);
    }
    Attempt a = co_await attempt<kStream>(up, c, reused, req, out, handler);
    if (!a.retry) co_return std::move(a.result);
    // A stale keep-alive connection: the server closed it before reading this request.
    fresh_only = true;
  }
}

Client::Client(asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), options)) {}

Client::~Client() { close_idle(); }

Awaitable<Result<Response>> Client::request(Upstream upstream, Request& req) {
  Response res;
  auto r = co_await impl_->perform<false>(upstream, req, &res, nullptr);
  if (!r) co_return r.error();
  co_return res;
}

Awaitable<Result<void>> Client::stream(Upstream upstream, Request& req, StreamHandler handler) {
  auto r = co_await impl_->perform<true>(upstream, req, nullptr, &handler);
  co_return r;
}

void Client::close_idle() {
  for (auto& [key, pool] : impl_->pools) {
    for (auto& c : pool.idle) close_conn(c);
    pool.idle.clear();
  }
}

ClientStats Client::stats() const { return impl_->stats; }

}  // namespace llmd::http
