#include "http/server.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "common/host_port.h"
#include "common/signals.h"
#include "http/poll_window.h"
#include "http/request_id.h"
#include "http/request_parser.h"
#include "log/log.h"

namespace llmd::http {

namespace {

using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using asio::as_tuple;
using asio::use_awaitable;

constexpr TimePoint kNever = TimePoint::max();
// A stream write waits once this much output is queued behind the socket (bounds memory per
// connection when the client reads slower than the handler writes).
constexpr size_t kStreamHighWater = 256 * 1024;
// After an error response the connection reads and discards what the client still sends (so the
// close does not reset the connection before the client has read the response), up to this.
constexpr size_t kLingerBytes = 1024 * 1024;
constexpr std::chrono::milliseconds kLingerTime{2'000};
// After the drain deadline, cut connections get this long to unwind before the worker stops.
constexpr std::chrono::milliseconds kKillGrace{1'000};

}  // namespace

// Named rather than anonymous: Server::Impl (external linkage) holds these.
namespace server_detail {

struct Counters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_rejected{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> bad_requests{0};
  std::atomic<uint64_t> headers_too_large{0};
  std::atomic<uint64_t> bodies_too_large{0};
  std::atomic<uint64_t> read_timeouts{0};
  std::atomic<uint64_t> idle_closes{0};
  std::atomic<uint64_t> client_disconnects{0};
  std::atomic<uint64_t> write_timeouts{0};
  std::atomic<uint64_t> backpressure_waits{0};
  std::atomic<uint64_t> handler_errors{0};
  std::atomic<uint64_t> drain_kills{0};
  std::atomic<uint64_t> poll_catches{0};
  std::atomic<uint64_t> sleeps{0};
  std::atomic<uint64_t> poll_ns{0};
};

// Each counter has one writer (its worker thread); relaxed is enough for stats() readers.
inline void bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

class Connection;
struct Worker;

// What the workers share: immutable once the server starts.
struct Shared {
  Shared(ServerOptions o, Router r) : options(std::move(o)), router(std::move(r)) {
    if (options.threads == 0) options.threads = std::max(1u, std::thread::hardware_concurrency());
    const auto shortest = std::min({options.read_timeout, options.idle_timeout, options.write_timeout});
    tick = std::clamp(shortest / 8, std::chrono::milliseconds(5), std::chrono::milliseconds(100));
  }

  ServerOptions options;
  Router router;
  // Period of the timeout sweep, so timeouts fire at most this late.
  std::chrono::milliseconds tick{100};
};

}  // namespace server_detail

namespace {

bool is_client_gone_error(const beast::error_code& ec) {
  return ec == asio::error::broken_pipe || ec == asio::error::connection_reset || ec == asio::error::eof ||
         ec == asio::error::connection_aborted || ec == asio::error::not_connected;
}

bool has_close_token(const ResponseHead& head) {
  const auto it = head.find(Field::connection);
  if (it == head.end()) return false;
  for (const auto& token : bhttp::token_list(it->value())) {
    if (beast::iequals(token, "close")) return true;
  }
  return false;
}

void append_hex(std::string& out, size_t v) {
  char buf[24];
  char* p = buf + sizeof(buf);
  do {
    *--p = "0123456789abcdef"[v & 0xF];
    v >>= 4;
  } while (v != 0);
  out.append(p, static_cast<size_t>(buf + sizeof(buf) - p));
}

// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" (RFC 9110 IMF-fixdate), formatted by hand so it does not
// depend on the C locale.
std::string format_date_line(std::time_t t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  const int n =
      std::snprintf(buf, sizeof(buf), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", kDays[tm.tm_wday],
                    tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

}  // namespace

namespace {

// Runs a worker's io_context until it is stopped. When it runs out of work it polls (each poll
// is one non-blocking epoll_wait) for the PollWindow's time, then blocks for the next event.
// The gap until that event feeds the window. run_one() returns 0 only once the loop is stopped.
void run_worker(asio::io_context& ioc, std::chrono::microseconds busy_poll, server_detail::Counters& c) {
  if (busy_poll.count() <= 0) {
    ioc.run();
    return;
  }
  using Clock = std::chrono::steady_clock;
  PollWindow window(busy_poll);
  for (;;) {
    if (ioc.poll() > 0) continue;
    if (ioc.stopped()) return;
    const auto idle_since = Clock::now();
    const auto until = idle_since + window.window();
    bool caught = false;
    for (auto now = idle_since; now < until; now = Clock::now()) {
      if (ioc.poll() > 0) {  // ran the handlers too: the gap ends at `now`, before this poll
        window.on_event(now - idle_since);
        c.poll_catches.fetch_add(1, std::memory_order_relaxed);
        c.poll_ns.fetch_add(static_cast<uint64_t>((now - idle_since).count()), std::memory_order_relaxed);
        caught = true;
        break;
      }
      if (ioc.stopped()) return;
    }
    if (caught) continue;
    const auto slept_from = Clock::now();
    if (window.window().count() > 0) {
      c.poll_ns.fetch_add(static_cast<uint64_t>((slept_from - idle_since).count()),
                          std::memory_order_relaxed);
    }
    c.sleeps.fetch_add(1, std::memory_order_relaxed);
    if (ioc.run_one() == 0) return;
    window.on_event(Clock::now() - idle_since);
  }
}

}  // namespace

using server_detail::Connection;
using server_detail::Counters;
using server_detail::Worker;

struct Server::Impl {
  Impl(ServerOptions o, Router r) : shared(std::move(o), std::move(r)) {}

  void stop_now();
  void on_worker_stopped();

  server_detail::Shared shared;
  std::vector<std::unique_ptr<Worker>> workers;
  uint16_t port = 0;
  bool started = false;
  std::atomic<bool> drain_requested{false};
  std::mutex mu;       // guards running and on_all_stopped (start-up and shutdown only)
  std::mutex join_mu;  // serialises wait()
  unsigned running = 0;
  std::function<void()> on_all_stopped;
};

namespace server_detail {

// One worker thread: its io_context, acceptor, connections and counters. Everything here is used
// only on the worker's thread, except `counters` (read by stats()) and posting to `ioc`.
namespace {

// RFC 9112 §3.2.2: a server accepts the absolute form ("POST http://host/v1/completions"), which
// clients send to proxies; routing uses the path and query alone, so the authority is dropped.
void to_origin_form(Request& req) {
  const std::string_view target = req.target();
  size_t scheme = 0;
  if (target.size() > 7 && beast::iequals(target.substr(0, 7), "http://")) scheme = 7;
  if (target.size() > 8 && beast::iequals(target.substr(0, 8), "https://")) scheme = 8;
  if (scheme == 0) return;
  const size_t path = target.find_first_of("/?", scheme);
  std::string origin = path == std::string_view::npos ? std::string("/") : std::string(target.substr(path));
  if (origin.front() == '?') origin.insert(origin.begin(), '/');
  req.target(origin);
}

}  // namespace

struct Worker {
  Worker(Shared& s, unsigned i)
      : srv(s),
        index(i),
        ioc(std::make_unique<asio::io_context>(1)),
        date_line(format_date_line(std::time(nullptr))),
        rng(s.options.seed + i),
        request_ids(rng) {}
  ~Worker();

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> sweep_loop();
  asio::awaitable<void> drain_flow();
  void link(Connection* c);
  void unlink(Connection* c);
  void refresh_date(TimePoint now);

  Shared& srv;
  const unsigned index;
  std::unique_ptr<asio::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> sweep_timer;
  std::unique_ptr<asio::steady_timer> drain_timer;
  Connection* head = nullptr;  // intrusive list of live connections
  size_t active = 0;
  bool draining = false;
  std::string date_line;
  std::time_t date_second = 0;
  Counters counters;
  Rng rng;
  RequestIdGenerator request_ids;  // for the server's own error replies; draws from rng
  std::thread thread;
};

// One client connection and the Responder its handlers write to. Owned by its session coroutine
// (and briefly by pending callbacks); listed in its worker for the timeout sweep and the drain.
class Connection final : public Responder, public std::enable_shared_from_this<Connection> {
 public:
  enum class Phase { kIdle, kReading, kHandling, kLinger };
  enum class Expiry { kNone, kIdle, kRead, kDrain };

  Connection(Worker& w, tcp::socket sock)
      : worker_(w),
        options_(w.srv.options),
        sock_(std::move(sock)),
        buf_(std::max(options_.max_header_bytes, size_t{1024}) + kBodyReadChunk),
        cv_(sock_.get_executor()) {
    // Synchronous sends (write_now's fast path) must not block the worker.
    beast::error_code ig;
    sock_.non_blocking(true, ig);
  }

  ~Connection() override = default;

  static asio::awaitable<void> session(std::shared_ptr<Connection> self);

  // Called by the worker's sweep on every tick.
  void on_tick(TimePoint now);
  // Drain started: connections between requests close now; the others finish their request.
  void on_drain();
  // Drain deadline passed: cancel whatever the handler awaits and close.
  void kill();

  asio::cancellation_signal& signal() { return signal_; }

  // Responder.
  Awaitable<bool> send(Response res) override;
  Awaitable<bool> send_relayed(const WireHead& head, std::string_view body) override;
  Awaitable<bool> begin_stream(ResponseHead head) override;
  Awaitable<bool> write(std::string_view data) override;
  Awaitable<bool> write_sse(std::string_view data) override;
  Awaitable<bool> finish() override;
  bool started() const override { return started_; }
  bool client_gone() const override { return client_gone_; }
  const std::string& peer() const override;
  unsigned worker() const override { return worker_.index; }
  void abort() override { aborted_ = true; }

  Connection* prev = nullptr;
  Connection* next = nullptr;

 private:
  enum class ReadOutcome { kRequest, kClosed, kError };

  asio::awaitable<void> serve();
  asio::awaitable<ReadOutcome> read_request(Status& error_status, std::string& error_message);
  asio::awaitable<void> reply_error(Status status, std::string_view message);
  asio::awaitable<void> linger();
  asio::awaitable<bool> write_now(std::string_view head, std::string_view body);
  asio::awaitable<bool> wait_flushed();
  asio::awaitable<bool> wait_writable();

  void enter_phase(Phase p);
  void begin_request(const Request& req);
  bool decide_keep_alive(const ResponseHead& head) const;
  // Status line and headers into out_. Content-Length, Transfer-Encoding and Connection are the
  // server's to set (the handler's Content-Length is kept only when `keep_handler_length`).
  void serialize_head(const ResponseHead& head, std::optional<size_t> content_length, bool chunked,
                      bool keep_handler_length = false);
  void append_status_line(unsigned code, std::string_view reason);
  // The headers that end every head: Server and Date unless the head has them, the framing, the blank line.
  void append_framing(bool has_server, bool has_date, std::optional<size_t> content_length, bool chunked);
  void pump();
  void on_write_error(const beast::error_code& ec);
  void arm_watch();
  void disarm_watch();
  void mark_gone();
  void close_socket();
  bool dead() const { return killed_ || client_gone_ || write_failed_; }

  Worker& worker_;
  const ServerOptions& options_;
  tcp::socket sock_;
  beast::flat_buffer buf_;
  std::optional<RequestParser> parser_;
  mutable std::string peer_;
  asio::cancellation_signal signal_;        // cancels the session coroutine, handler included
  asio::cancellation_signal watch_signal_;  // cancels the disconnect watch
  asio::steady_timer cv_;                   // wakes a handler waiting for output to drain

  Phase phase_ = Phase::kIdle;
  Expiry expiry_ = Expiry::kNone;
  TimePoint read_deadline_ = kNever;
  TimePoint write_deadline_ = kNever;
  bool write_timed_out_ = false;
  bool killed_ = false;
  bool client_gone_ = false;
  bool write_failed_ = false;
  bool watching_ = false;
  bool watch_blocked_ = false;  // request bytes are queued behind this one: EOF cannot be seen

  // The request being answered.
  unsigned version_ = 11;
  bool req_keep_alive_ = true;
  bool head_only_ = false;
  bool keep_alive_ = true;
  bool started_ = false;
  bool streaming_ = false;
  bool chunked_ = false;
  bool finished_ = false;
  bool aborted_ = false;  // abort(): the connection closes after the handler

  // Output: `out_` is scratch for a response head; stream bytes queue in `pending_` while `inflight_`
  // is being written, then the two swap (both keep their capacity across requests).
  std::string out_;
  std::string pending_;
  std::string inflight_;
  bool writing_ = false;
  bool cv_waiting_ = false;
};

const std::string& Connection::peer() const {
  if (peer_.empty()) {
    beast::error_code ec;
    const auto ep = sock_.remote_endpoint(ec);
    peer_ = ec ? std::string("unknown") : host_port(ep.address().to_string(), ep.port());
  }
  return peer_;
}

asio::awaitable<void> Connection::session(std::shared_ptr<Connection> self) {
  // Handlers see cancellation as error codes (as_tuple) instead of exceptions thrown at every await.
  co_await asio::this_coro::throw_if_cancelled(false);
  try {
    co_await self->serve();
  } catch (const std::exception& e) {
    log::debug("http connection ended by exception", log::kv("peer", self->peer()),
               log::kv("what", e.what()));
  }
  self->disarm_watch();
  self->close_socket();
  self->worker_.unlink(self.get());
}

void Connection::enter_phase(Phase p) {
  phase_ = p;
  switch (p) {
    case Phase::kIdle:
      read_deadline_ = SteadyClock::now() + options_.idle_timeout;
      break;
    case Phase::kReading:
      read_deadline_ = SteadyClock::now() + options_.read_timeout;
      break;
    case Phase::kHandling:
      read_deadline_ = kNever;
      break;
    case Phase::kLinger:
      read_deadline_ =
          SteadyClock::now() + std::min<std::chrono::milliseconds>(kLingerTime, options_.read_timeout);
      break;
  }
}

void Connection::on_tick(TimePoint now) {
  if (now >= read_deadline_ && expiry_ == Expiry::kNone) {
    expiry_ = phase_ == Phase::kIdle ? Expiry::kIdle : Expiry::kRead;
    beast::error_code ig;
    sock_.cancel(ig);
  }
  if (now >= write_deadline_ && !write_timed_out_) {
    write_timed_out_ = true;
    beast::error_code ig;
    sock_.cancel(ig);
  }
  // Fast handlers finish between ticks and never pay for the watch; slower ones get it here.
  if (phase_ == Phase::kHandling && !watching_ && !watch_blocked_) arm_watch();
}

void Connection::on_drain() {
  if (phase_ == Phase::kIdle && expiry_ == Expiry::kNone) {
    expiry_ = Expiry::kDrain;
    beast::error_code ig;
    sock_.cancel(ig);
  }
}

void Connection::kill() {
  if (killed_) return;
  killed_ = true;
  bump(worker_.counters.drain_kills);
  signal_.emit(asio::cancellation_type::terminal);
  beast::error_code ig;
  sock_.cancel(ig);
}

void Connection::mark_gone() {
  if (client_gone_) return;
  client_gone_ = true;
  bump(worker_.counters.client_disconnects);
  // Terminal cancellation of whatever the handler awaits (an upstream read, a timer, ...).
  signal_.emit(asio::cancellation_type::terminal);
  beast::error_code ig;
  sock_.cancel(ig);
}

// Watches for the client closing while the handler runs: a readable socket whose peek says EOF.
// The non-blocking peek first catches a close that happened before the watch (epoll is edge-triggered,
// so that edge would not be seen again).
void Connection::arm_watch() {
  if (watching_ || watch_blocked_ || client_gone_ || killed_ || !sock_.is_open()) return;
  char c;
  const ssize_t r = ::recv(sock_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
    mark_gone();
    return;
  }
  if (r > 0) {
    watch_blocked_ = true;  // a pipelined request; a failed write will tell instead
    return;
  }
  watching_ = true;
  sock_.async_wait(
      tcp::socket::wait_read,
      asio::bind_cancellation_slot(watch_signal_.slot(), [self = shared_from_this()](beast::error_code ec) {
        self->watching_ = false;
        if (ec || self->phase_ != Phase::kHandling) return;
        self->arm_watch();
      }));
}

void Connection::disarm_watch() {
  if (watching_) watch_signal_.emit(asio::cancellation_type::terminal);
}

void Connection::close_socket() {
  beast::error_code ig;
  sock_.shutdown(tcp::socket::shutdown_both, ig);
  sock_.close(ig);
}

void Connection::begin_request(const Request& req) {
  enter_phase(Phase::kHandling);
  version_ = req.version() == 10 ? 10 : 11;
  req_keep_alive_ = req.keep_alive();
  head_only_ = req.method() == Verb::head;
  keep_alive_ = req_keep_alive_;
  started_ = streaming_ = chunked_ = finished_ = false;
  aborted_ = false;
  watch_blocked_ = false;
  write_timed_out_ = false;
}

asio::awaitable<void> Connection::serve() {
  const Router& router = worker_.srv.router;
  for (;;) {
    Status error_status = Status::bad_request;
    std::string error_message;
    const ReadOutcome outcome = co_await read_request(error_status, error_message);
    if (outcome == ReadOutcome::kClosed) co_return;
    if (outcome == ReadOutcome::kError) {
      co_await reply_error(error_status, error_message);
      co_return;
    }
    Request req = parser_->release();
    parser_.reset();
    to_origin_form(req);
    bump(worker_.counters.requests);
    begin_request(req);

    bool failed = false;
    try {
      co_await router.route(req.method(), req.target())(req, *this);
    } catch (const std::exception& e) {
      failed = true;
      if (!dead()) {
        bump(worker_.counters.handler_errors);
        log::warn("http handler failed", log::kv("target", req.target()), log::kv("what", e.what()));
      }
    }
    disarm_watch();
    if (dead()) co_return;
    if (aborted_) {
      // What the handler wrote still goes out; then the connection closes without the final chunk.
      if (writing_ || !pending_.empty()) co_await wait_flushed();
      co_return;
    }
    if (!started_) {
      keep_alive_ = false;
      co_await send(error_response(Status::internal_server_error,
                                   failed ? "internal error" : "the handler sent no response", version_,
                                   false));
    } else if (streaming_ && !finished_) {
      if (failed) co_return;  // cut the stream: the client sees it incomplete rather than "complete"
      co_await finish();
    }
    // Checked here first: a coroutine call per request only to find nothing queued is not free.
    if (writing_ || !pending_.empty()) {
      const bool flushed = co_await wait_flushed();
      if (!flushed) co_return;
    } else if (dead()) {
      co_return;
    }
    if (!keep_alive_) co_return;
  }
}

asio::awaitable<Connection::ReadOutcome> Connection::read_request(Status& error_status,
                                                                  std::string& error_message) {
  parser_.emplace();
  configure_request_parser(*parser_, options_.max_header_bytes, options_.max_body_bytes);
  // A buffer grown for a large body (next_read_size) is given back before the connection waits.
  if (buf_.size() == 0 && buf_.capacity() > kReadChunk) buf_.shrink_to_fit();
  enter_phase(buf_.size() > 0 ? Phase::kReading : Phase::kIdle);
  expiry_ = worker_.draining && buf_.size() == 0 ? Expiry::kDrain : Expiry::kNone;
  if (expiry_ == Expiry::kDrain) co_return ReadOutcome::kClosed;
  bool continue_sent = false;
  for (;;) {
    if (buf_.size() > 0) {
      if (phase_ == Phase::kIdle) enter_phase(Phase::kReading);
      beast::error_code ec;
      const ParseProgress progress = parse_buffered(*parser_, buf_, ec);
      if (progress == ParseProgress::kDone) co_return ReadOutcome::kRequest;
      if (progress == ParseProgress::kError) {
        error_status = status_for_parse_error(ec).value_or(Status::bad_request);
        if (error_status == Status::request_header_fields_too_large) {
          bump(worker_.counters.headers_too_large);
          error_message = "request headers exceed " + std::to_string(options_.max_header_bytes) + " bytes";
        } else if (error_status == Status::payload_too_large) {
          bump(worker_.counters.bodies_too_large);
          error_message = "request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes";
        } else {
          bump(worker_.counters.bad_requests);
          error_message = "malformed request: " + ec.message();
        }
        co_return ReadOutcome::kError;
      }
      // A client that asked to wait for "100 Continue" before the body gets it once.
      if (!continue_sent && parser_->is_header_done() && parser_->get().version() == 11) {
        const auto expect = parser_->get()[Field::expect];
        if (beast::iequals(expect, "100-continue")) {
          continue_sent = true;
          const bool sent = co_await write_now("HTTP/1.1 100 Continue\r\n\r\n", {});
          if (!sent) co_return ReadOutcome::kClosed;
        }
      }
    }
    const size_t room = buf_.max_size() - buf_.size();
    if (room == 0) {
      if (parser_->is_header_done()) {
        // Only a chunk-size line (with its extensions) that never ends can fill the buffer once
        // the header is parsed: chunk data is handed to the body as it arrives.
        bump(worker_.counters.bad_requests);
        error_status = Status::bad_request;
        error_message = "a chunk-size line exceeds " + std::to_string(buf_.max_size()) + " bytes";
        co_return ReadOutcome::kError;
      }
      bump(worker_.counters.headers_too_large);
      error_status = Status::request_header_fields_too_large;
      error_message = "request headers exceed " + std::to_string(options_.max_header_bytes) + " bytes";
      co_return ReadOutcome::kError;
    }
    auto [ec, n] = co_await sock_.async_read_some(buf_.prepare(std::min(room, next_read_size(*parser_))),
                                                  as_tuple(use_awaitable));
    buf_.commit(n);
    if (!ec) continue;
    if (killed_) co_return ReadOutcome::kClosed;
    switch (expiry_) {
      case Expiry::kIdle:
        bump(worker_.counters.idle_closes);
        co_return ReadOutcome::kClosed;
      case Expiry::kDrain:
        co_return ReadOutcome::kClosed;
      case Expiry::kRead:
        bump(worker_.counters.read_timeouts);
        error_status = Status::request_timeout;
        error_message =
            "the request did not arrive within " + std::to_string(options_.read_timeout.count()) + " ms";
        co_return ReadOutcome::kError;
      case Expiry::kNone:
        break;
    }
    if (ec == asio::error::eof && parser_->got_some()) {
      bump(worker_.counters.bad_requests);
      error_status = Status::bad_request;
      error_message = "the connection closed mid-request";
      co_return ReadOutcome::kError;
    }
    co_return ReadOutcome::kClosed;
  }
}

asio::awaitable<void> Connection::reply_error(Status status, std::string_view message) {
  version_ = 11;
  head_only_ = false;
  started_ = streaming_ = finished_ = false;
  keep_alive_ = false;
  req_keep_alive_ = false;
  Response reply = error_response(status, message, 11, false);
  // Every response carries an x-request-id: the client's, when its head got that far, else a new one.
  std::string id;
  if (parser_ && parser_->is_header_done()) {
    if (auto it = parser_->get().find(kRequestIdHeader); it != parser_->get().end()) id = it->value();
  }
  if (!usable_request_id(id)) worker_.request_ids.next(id);
  reply.set(kRequestIdHeader, id);
  const bool sent = co_await send(std::move(reply));
  if (!sent) co_return;
  // A client too slow to send its request is not worth waiting for; the others may still be
  // sending a body we refused and should get to read the answer before the close.
  if (status != Status::request_timeout) co_await linger();
}

asio::awaitable<void> Connection::linger() {
  beast::error_code ig;
  sock_.shutdown(tcp::socket::shutdown_send, ig);
  enter_phase(Phase::kLinger);
  expiry_ = Expiry::kNone;
  size_t discarded = 0;
  buf_.clear();
  while (discarded < kLingerBytes && !killed_ && expiry_ == Expiry::kNone) {
    auto [ec, n] = co_await sock_.async_read_some(buf_.prepare(kReadChunk), as_tuple(use_awaitable));
    if (ec) break;
    discarded += n;
  }
}

bool Connection::decide_keep_alive(const ResponseHead& head) const {
  return req_keep_alive_ && !worker_.draining && !has_close_token(head);
}

void Connection::append_status_line(unsigned code, std::string_view reason) {
  out_.clear();
  out_.append(version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_uint(out_, code);
  out_.push_back(' ');
  out_.append(reason);
  out_.append("\r\n");
}

void Connection::append_framing(bool has_server, bool has_date, std::optional<size_t> content_length,
                                bool chunked) {
  if (!has_server && !options_.server_header.empty())
    out_.append("Server: ").append(options_.server_header).append("\r\n");
  if (!has_date) out_.append(worker_.date_line);
  if (content_length) {
    out_.append("Content-Length: ");
    append_uint(out_, *content_length);
    out_.append("\r\n");
  }
  if (chunked) out_.append("Transfer-Encoding: chunked\r\n");
  if (version_ == 11 && !keep_alive_) out_.append("Connection: close\r\n");
  if (version_ == 10 && keep_alive_) out_.append("Connection: keep-alive\r\n");
  out_.append("\r\n");
}

void Connection::serialize_head(const ResponseHead& head, std::optional<size_t> content_length, bool chunked,
                                bool keep_handler_length) {
  append_status_line(head.result_int(), head.reason());
  bool has_server = false;
  bool has_date = false;
  for (const auto& f : head) {
    const Field name = f.name();
    if ((name == Field::content_length && !keep_handler_length) || name == Field::transfer_encoding ||
        name == Field::connection) {
      continue;
    }
    has_server |= name == Field::server;
    has_date |= name == Field::date;
    out_.append(f.name_string()).append(": ").append(f.value()).append("\r\n");
  }
  append_framing(has_server, has_date, content_length, chunked);
}

asio::awaitable<bool> Connection::write_now(std::string_view head, std::string_view body) {
  // Most responses fit the socket buffer: one non-blocking send, no completion to wait for.
  beast::error_code ec;
  const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body)};
  const size_t sent = sock_.write_some(buffers, ec);
  if (!ec && sent == head.size() + body.size()) co_return true;
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    on_write_error(ec);
    co_return false;
  }
  const auto remaining = unsent(head, body, ec ? 0 : sent);
  write_deadline_ = SteadyClock::now() + options_.write_timeout;
  auto [wec, n] = co_await asio::async_write(sock_, remaining, as_tuple(use_awaitable));
  write_deadline_ = kNever;
  if (wec) {
    on_write_error(wec);
    co_return false;
  }
  co_return true;
}

void Connection::on_write_error(const beast::error_code& ec) {
  write_failed_ = true;
  if (write_timed_out_) {
    bump(worker_.counters.write_timeouts);
    // The client stopped reading: nothing the handler produces can reach it any more.
    if (phase_ == Phase::kHandling && !killed_) signal_.emit(asio::cancellation_type::terminal);
    return;
  }
  if (phase_ == Phase::kHandling && !killed_ && is_client_gone_error(ec)) mark_gone();
}

Awaitable<bool> Connection::send(Response res) {
  if (started_ || dead()) co_return false;
  started_ = true;
  finished_ = true;
  keep_alive_ = decide_keep_alive(res.base());
  const unsigned code = res.result_int();
  const bool bodiless = code / 100 == 1 || code == 204 || code == 304;
  std::optional<size_t> length;
  bool keep_handler_length = false;
  if (!bodiless) {
    // A HEAD answer may state the length of the GET body it stands for instead of carrying it.
    keep_handler_length = head_only_ && res.body().empty() && res.find(Field::content_length) != res.end();
    if (!keep_handler_length) length = res.body().size();
  }
  serialize_head(res.base(), length, false, keep_handler_length);
  const std::string_view body = head_only_ || bodiless ? std::string_view{} : std::string_view(res.body());
  const bool sent = co_await write_now(out_, body);
  co_return sent;
}

Awaitable<bool> Connection::send_relayed(const WireHead& head, std::string_view body) {
  if (started_ || dead()) co_return false;
  started_ = true;
  finished_ = true;
  keep_alive_ = req_keep_alive_ && !worker_.draining;
  const unsigned code = head.status;
  const bool bodiless = code / 100 == 1 || code == 204 || code == 304;
  append_status_line(code, bhttp::obsolete_reason(static_cast<Status>(code)));
  out_.append(head.lines());
  std::optional<size_t> length;
  if (!bodiless && !head.has_content_length()) length = body.size();
  append_framing(head.has_server(), head.has_date(), length, false);
  const bool sent = co_await write_now(out_, head_only_ || bodiless ? std::string_view{} : body);
  co_return sent;
}

Awaitable<bool> Connection::begin_stream(ResponseHead head) {
  if (started_ || dead()) co_return false;
  started_ = true;
  streaming_ = true;
  chunked_ = version_ == 11;
  keep_alive_ = chunked_ && decide_keep_alive(head);
  serialize_head(head, std::nullopt, chunked_);
  pending_.append(out_);
  pump();
  // Streams are long: watch for the client leaving from the start.
  arm_watch();
  co_return !dead();
}

Awaitable<bool> Connection::write(std::string_view data) {
  if (!streaming_ || finished_ || dead()) co_return false;
  if (head_only_ || data.empty()) co_return true;  // an empty chunk would end the stream
  if (chunked_) {
    append_hex(pending_, data.size());
    pending_.append("\r\n").append(data).append("\r\n");
  } else {
    pending_.append(data);
  }
  pump();
  if (pending_.size() >= kStreamHighWater) {
    const bool writable = co_await wait_writable();
    co_return writable;
  }
  co_return !dead();
}

Awaitable<bool> Connection::write_sse(std::string_view data) {
  if (!started_) {
    ResponseHead head;
    head.result(Status::ok);
    head.set(Field::content_type, "text/event-stream");
    head.set(Field::cache_control, "no-cache");
    const bool begun = co_await begin_stream(std::move(head));
    if (!begun) co_return false;
  }
  if (!streaming_ || finished_ || dead()) co_return false;
  if (head_only_) co_return true;
  if (chunked_) {
    append_hex(pending_, data.size() + 8);
    pending_.append("\r\n");
  }
  pending_.append("data: ").append(data).append("\n\n");
  if (chunked_) pending_.append("\r\n");
  pump();
  if (pending_.size() >= kStreamHighWater) {
    const bool writable = co_await wait_writable();
    co_return writable;
  }
  co_return !dead();
}

Awaitable<bool> Connection::finish() {
  if (!streaming_ || finished_ || dead()) co_return false;
  finished_ = true;
  if (chunked_ && !head_only_) {
    pending_.append("0\r\n\r\n");
    pump();
  }
  const bool flushed = co_await wait_flushed();
  co_return flushed;
}

// Starts writing the queued bytes unless a write is already in flight (its completion comes back
// for whatever queued meanwhile, so bytes go out as soon as the socket takes them).
void Connection::pump() {
  if (writing_ || pending_.empty() || write_failed_) return;
  inflight_.swap(pending_);
  pending_.clear();
  writing_ = true;
  write_deadline_ = SteadyClock::now() + options_.write_timeout;
  asio::async_write(sock_, asio::buffer(inflight_),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      self->writing_ = false;
                      self->write_deadline_ = kNever;
                      self->inflight_.clear();
                      if (ec) {
                        self->on_write_error(ec);
                      } else {
                        self->pump();
                      }
                      if (self->cv_waiting_) self->cv_.cancel();
                    });
}

asio::awaitable<bool> Connection::wait_flushed() {
  while ((writing_ || !pending_.empty()) && !dead()) {
    cv_.expires_at(kNever);
    cv_waiting_ = true;
    co_await cv_.async_wait(as_tuple(use_awaitable));
    cv_waiting_ = false;
  }
  co_return !dead();
}

asio::awaitable<bool> Connection::wait_writable() {
  bump(worker_.counters.backpressure_waits);
  while (pending_.size() >= kStreamHighWater && !dead()) {
    cv_.expires_at(kNever);
    cv_waiting_ = true;
    co_await cv_.async_wait(as_tuple(use_awaitable));
    cv_waiting_ = false;
  }
  co_return !dead();
}

Worker::~Worker() {
  // Pending operations own coroutine frames that own connections, which unlink themselves from this
  // worker when destroyed: destroy the io_context (and with it those frames) while the rest of the
  // worker is still alive. I/O objects go first as they need their io_context.
  acceptor.reset();
  sweep_timer.reset();
  drain_timer.reset();
  ioc.reset();
}

void Worker::link(Connection* c) {
  c->next = head;
  if (head != nullptr) head->prev = c;
  head = c;
  ++active;
}

void Worker::unlink(Connection* c) {
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (head == c) head = c->next;
  c->prev = c->next = nullptr;
  --active;
  if (draining && active == 0 && drain_timer) drain_timer->cancel();
}

void Worker::refresh_date(TimePoint) {
  const std::time_t now = std::time(nullptr);
  if (now != date_second) {
    date_second = now;
    date_line = format_date_line(now);
  }
}

asio::awaitable<void> Worker::accept_loop() {
  const auto& options = srv.options;
  asio::steady_timer backoff(*ioc);
  for (;;) {
    auto [ec, sock] = co_await acceptor->async_accept(as_tuple(use_awaitable));
    if (ec) {
      if (draining || !acceptor->is_open() || ec == asio::error::operation_aborted) co_return;
      // Out of descriptors or memory: pause instead of spinning on the error.
      log::warn("http accept failed", log::kv("error", ec.message()));
      backoff.expires_after(std::chrono::milliseconds(50));
      co_await backoff.async_wait(as_tuple(use_awaitable));
      continue;
    }
    if (active >= options.max_connections_per_worker) {
      bump(counters.connections_rejected);
      beast::error_code ig;
      sock.close(ig);
      continue;
    }
    bump(counters.connections_accepted);
    beast::error_code ig;
    sock.set_option(tcp::no_delay(true), ig);
    auto conn = std::make_shared<Connection>(*this, std::move(sock));
    link(conn.get());
    asio::co_spawn(*ioc, Connection::session(conn),
                   asio::bind_cancellation_slot(conn->signal().slot(), asio::detached));
  }
}

asio::awaitable<void> Worker::sweep_loop() {
  for (;;) {
    sweep_timer->expires_after(srv.tick);
    auto [ec] = co_await sweep_timer->async_wait(as_tuple(use_awaitable));
    if (ec) co_return;
    const TimePoint now = SteadyClock::now();
    refresh_date(now);
    // on_tick only cancels operations (their completions run later), so the list stays intact.
    for (Connection* c = head; c != nullptr; c = c->next) c->on_tick(now);
  }
}

asio::awaitable<void> Worker::drain_flow() {
  draining = true;
  beast::error_code ig;
  acceptor->close(ig);
  for (Connection* c = head; c != nullptr; c = c->next) c->on_drain();
  if (active > 0) {
    // Woken early by the last connection to close (Worker::unlink).
    drain_timer->expires_after(srv.options.drain_timeout);
    co_await drain_timer->async_wait(as_tuple(use_awaitable));
  }
  if (active > 0) {
    log::warn("http drain deadline passed", log::kv("worker", index), log::kv("connections", active));
    for (Connection* c = head; c != nullptr; c = c->next) c->kill();
    drain_timer->expires_after(kKillGrace);
    co_await drain_timer->async_wait(as_tuple(use_awaitable));
  }
  sweep_timer->cancel();
  ioc->stop();
}

}  // namespace server_detail

void Server::Impl::stop_now() {
  for (auto& w : workers) w->ioc->stop();
}

void Server::Impl::on_worker_stopped() {
  std::lock_guard lock(mu);
  if (--running == 0 && on_all_stopped) on_all_stopped();
}

Server::Server(ServerOptions options, Router router)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {
  for (unsigned i = 0; i < impl_->shared.options.threads; ++i)
    impl_->workers.push_back(std::make_unique<Worker>(impl_->shared, i));
}

Server::~Server() {
  impl_->stop_now();
  wait();
}

Result<void> Server::start() {
  auto& im = *impl_;
  if (im.started) return make_error(ErrorCode::kInternal, "http server already started");
  beast::error_code ec;
  tcp::endpoint endpoint;
  auto address = asio::ip::make_address(im.shared.options.host, ec);
  if (ec) {
    // A host name: resolve it once at start-up.
    asio::io_context resolve_ioc;
    tcp::resolver resolver(resolve_ioc);
    auto results = resolver.resolve(im.shared.options.host, std::to_string(im.shared.options.port), ec);
    if (ec || results.empty()) {
      return make_error(ErrorCode::kIo, "cannot resolve " + im.shared.options.host + ": " + ec.message());
    }
    address = results.begin()->endpoint().address();
  }
  endpoint = tcp::endpoint(address, im.shared.options.port);
  for (auto& w : im.workers) {
    w->acceptor = std::make_unique<tcp::acceptor>(*w->ioc);
    auto& a = *w->acceptor;
    a.open(endpoint.protocol(), ec);
    if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      // Every worker binds its own listening socket to the same port; the kernel spreads connections.
      const int one = 1;
      if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        ec = beast::error_code(errno, boost::system::system_category());
      }
    }
    if (!ec) a.bind(endpoint, ec);
    if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      const std::string where = host_port(endpoint.address().to_string(), endpoint.port());
      for (auto& other : im.workers) other->acceptor.reset();
      return make_error(ErrorCode::kIo, "cannot listen on " + where + ": " + ec.message());
    }
    if (endpoint.port() == 0) endpoint.port(a.local_endpoint().port());
  }
  im.port = endpoint.port();
  im.started = true;
  for (auto& w : im.workers) {
    w->sweep_timer = std::make_unique<asio::steady_timer>(*w->ioc);
    w->drain_timer = std::make_unique<asio::steady_timer>(*w->ioc);
    asio::co_spawn(*w->ioc, w->accept_loop(), asio::detached);
    asio::co_spawn(*w->ioc, w->sweep_loop(), asio::detached);
  }
  {
    std::lock_guard lock(im.mu);
    im.running = static_cast<unsigned>(im.workers.size());
  }
  for (auto& w : im.workers) {
    Worker* wp = w.get();
    w->thread = std::thread([wp, &im] {
      for (;;) {
        try {
          run_worker(*wp->ioc, im.shared.options.busy_poll, wp->counters);
          break;
        } catch (const std::exception& e) {
          log::error("http worker: unhandled exception", log::kv("worker", wp->index),
                     log::kv("what", e.what()));
        }
      }
      im.on_worker_stopped();
    });
  }
  log::info("http server listening", log::kv("host", im.shared.options.host), log::kv("port", im.port),
            log::kv("workers", im.workers.size()));
  return {};
}

uint16_t Server::port() const { return impl_->port; }

unsigned Server::worker_count() const { return static_cast<unsigned>(impl_->workers.size()); }

asio::any_io_executor Server::worker_executor(unsigned i) {
  return impl_->workers.at(i)->ioc->get_executor();
}

void Server::drain() {
  if (!impl_->started || impl_->drain_requested.exchange(true)) return;
  for (auto& w : impl_->workers) {
    Worker* wp = w.get();
    asio::post(*wp->ioc, [wp] { asio::co_spawn(*wp->ioc, wp->drain_flow(), asio::detached); });
  }
}

void Server::wait() {
  std::lock_guard lock(impl_->join_mu);
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Server::run_until_signal() {
  asio::io_context signal_ioc(1);
  asio::signal_set signals(signal_ioc, SIGINT, SIGTERM);
  unblock_stop_signals();  // the handler is in place: a signal pending since start-up arrives now
  int received = 0;
  std::function<void(beast::error_code, int)> on_signal = [&](beast::error_code ec, int signo) {
    if (ec) return;
    if (++received == 1) {
      log::info("http server draining", log::kv("signal", signo));
      drain();
      signals.async_wait(on_signal);
    } else {
      log::warn("http server stopping now", log::kv("signal", signo));
      impl_->stop_now();
    }
  };
  signals.async_wait(on_signal);
  {
    std::lock_guard lock(impl_->mu);
    impl_->on_all_stopped = [&] { asio::post(signal_ioc, [&] { signals.cancel(); }); };
    if (impl_->running == 0) asio::post(signal_ioc, [&] { signals.cancel(); });
  }
  signal_ioc.run();
  wait();
  std::lock_guard lock(impl_->mu);
  impl_->on_all_stopped = nullptr;
}

ServerStats Server::stats() const {
  ServerStats s;
  for (const auto& w : impl_->workers) {
    const Counters& c = w->counters;
    auto r = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    s.connections_accepted += r(c.connections_accepted);
    s.connections_rejected += r(c.connections_rejected);
    s.requests += r(c.requests);
    s.bad_requests += r(c.bad_requests);
    s.headers_too_large += r(c.headers_too_large);
    s.bodies_too_large += r(c.bodies_too_large);
    s.read_timeouts += r(c.read_timeouts);
    s.idle_closes += r(c.idle_closes);
    s.client_disconnects += r(c.client_disconnects);
    s.write_timeouts += r(c.write_timeouts);
    s.backpressure_waits += r(c.backpressure_waits);
    s.handler_errors += r(c.handler_errors);
    s.drain_kills += r(c.drain_kills);
    s.poll_catches += r(c.poll_catches);
    s.sleeps += r(c.sleeps);
    s.poll_seconds += static_cast<double>(r(c.poll_ns)) / 1e9;
  }
  return s;
}

}  // namespace llmd::http
