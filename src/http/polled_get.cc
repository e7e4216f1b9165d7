#include "http/polled_get.h"

#include <cerrno>
#include <cstring>
#include <new>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace llmd::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// Beast's parser through its callbacks: the status is kept, body bytes go to the reader's string,
// fields are dropped (Beast itself reads the framing ones: Content-Length, Transfer-Encoding,
// Connection).
class ResponseReader::Parser final : public bhttp::basic_parser<false> {
 public:
  Parser(std::string& body, size_t max_body) : body_(body), max_body_(max_body) {}
  unsigned status = 0;

 private:
  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int,
                       beast::error_code& ec) override {
    ec = bhttp::error::bad_method;  // unreachable for a response parser
  }
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override {
    status = static_cast<unsigned>(code);
  }
  void on_field_impl(bhttp::field, beast::string_view, beast::string_view, beast::error_code&) override {}
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, beast::error_code&) override {
    if (length) body_.reserve(static_cast<size_t>(std::min<std::uint64_t>(*length, max_body_)));
  }
  size_t on_body_impl(beast::string_view bytes, beast::error_code&) override {
    body_.append(bytes.data(), bytes.size());
    return bytes.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view bytes, beast::error_code&) override {
    body_.append(bytes.data(), bytes.size());
    return bytes.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  std::string& body_;
  const size_t max_body_;
};

ResponseReader::ResponseReader() { reset(64 * 1024, 8 * 1024 * 1024); }
ResponseReader::~ResponseReader() = default;

void ResponseReader::reset(size_t max_header_bytes, size_t max_body_bytes) {
  body_.clear();
  pending_.clear();
  error_.clear();
  status_ = 0;
  keep_alive_ = false;
  done_ = false;
  trailing_ = 0;
  seen_ = 0;
  max_header_ = max_header_bytes;
  // Beast's parser cannot be reset, so a fresh one is built in the old one's place (no allocation).
  if (parser_) {
    parser_->~Parser();
    new (parser_.get()) Parser(body_, max_body_bytes);
  } else {
    parser_ = std::make_unique<Parser>(body_, max_body_bytes);
  }
  parser_->eager(true);
  parser_->header_limit(static_cast<std::uint32_t>(std::min<size_t>(max_header_bytes, UINT32_MAX)));
  parser_->body_limit(max_body_bytes);
}

ResponseReader::Step ResponseReader::put(std::string_view in) {
  size_t off = 0;
  while (off < in.size()) {
    if (done_) {
      trailing_ += in.size() - off;
      return Step::kDone;
    }
    beast::error_code ec;
    const size_t n = parser_->put(boost::asio::const_buffer(in.data() + off, in.size() - off), ec);
    off += n;
    if (ec == bhttp::error::need_more || (!ec && n == 0 && !parser_->is_done())) {
      // An incomplete header or chunk header: Beast needs it whole, so it waits for more bytes,
      // as many as a header may have.
      if (in.size() - off > max_header_) {
        error_ = "response header too large";
        return Step::kFailed;
      }
      pending_.assign(in.data() + off, in.size() - off);
      return Step::kNeedMore;
    }
    if (ec) {
      error_ = ec.message();
      return Step::kFailed;
    }
    if (parser_->is_done()) {
      done_ = true;
      status_ = parser_->status;
      keep_alive_ = parser_->keep_alive();
    }
  }
  return done_ ? Step::kDone : Step::kNeedMore;
}

ResponseReader::Step ResponseReader::feed(std::string_view bytes) {
  if (!error_.empty()) return Step::kFailed;
  seen_ += bytes.size();
  if (done_) {
    trailing_ += bytes.size();
    return Step::kDone;
  }
  if (pending_.empty()) return put(bytes);
  // Rare: the header (or a chunk header) came in pieces.
  std::string joined;
  joined.reserve(pending_.size() + bytes.size());
  joined.append(pending_).append(bytes);
  pending_.clear();
  return put(joined);
}

ResponseReader::Step ResponseReader::feed_eof() {
  if (done_) return Step::kDone;
  if (!error_.empty()) return Step::kFailed;
  if (!parser_->is_header_done()) {
    error_ = "connection closed before the response header ended";
    return Step::kFailed;
  }
  beast::error_code ec;
  parser_->put_eof(ec);
  if (ec || !parser_->is_done()) {
    error_ = ec ? ec.message() : std::string("connection closed before the response ended");
    return Step::kFailed;
  }
  done_ = true;
  status_ = parser_->status;
  keep_alive_ = false;
  return Step::kDone;
}

namespace {

bool sendable(std::string_view s) { return !s.empty() && s.find_first_of(" \r\n") == std::string_view::npos; }

std::string errno_text(std::string_view what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

}  // namespace

PolledGet::PolledGet(std::vector<boost::asio::ip::tcp::endpoint> peers, std::string_view host,
                     std::string_view target, PolledGetOptions options)
    : peers_(std::move(peers)), options_(std::move(options)) {
  if (sendable(host) && sendable(target) && sendable(options_.accept)) {
    request_.append("GET ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
    request_.append("\r\nAccept: ").append(options_.accept).append("\r\nUser-Agent: llmd\r\n\r\n");
  }
}

PolledGet::~PolledGet() { close(); }

void PolledGet::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

PolledGet::Step PolledGet::fail(std::string why) {
  close();
  state_ = State::kIdle;
  error_ = std::move(why);
  return Step::kFailed;
}

PolledGet::Step PolledGet::start(TimePoint now) {
  if (state_ != State::kIdle) return fail("an exchange is already in progress");
  error_.clear();
  reader_.reset(options_.max_header_bytes, options_.max_body_bytes);
  sent_ = 0;
  tried_ = 0;
  if (request_.empty()) return fail("host or request target cannot be sent in a request line");
  if (fd_ >= 0) {
    reused_ = true;
    ++stats_.reused;
    state_ = State::kSending;
    deadline_ = now + options_.timeout;
    return send_some(now);
  }
  reused_ = false;
  return open(now);
}

PolledGet::Step PolledGet::open(TimePoint now) {
  if (peers_.empty()) return fail("no address to connect to");
  const auto& peer = peers_[peer_ % peers_.size()];
  fd_ = ::socket(peer.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return fail(errno_text("socket", errno));
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ++stats_.connects;
  deadline_ = now + options_.timeout;
  if (::connect(fd_, peer.data(), static_cast<socklen_t>(peer.size())) == 0) {
    state_ = State::kSending;
    return send_some(now);
  }
  if (errno == EINPROGRESS || errno == EINTR) {
    state_ = State::kConnecting;
    return Step::kPending;
  }
  return next_peer(now, errno_text("connect", errno));
}

PolledGet::Step PolledGet::next_peer(TimePoint now, std::string why) {
  close();
  ++tried_;
  ++peer_;
  if (tried_ >= peers_.size()) return fail(std::move(why));
  return open(now);
}

PolledGet::Step PolledGet::check_connect(TimePoint now) {
  pollfd p{fd_, POLLOUT, 0};
  const int ready = ::poll(&p, 1, 0);
  if (ready == 0 || (ready < 0 && errno == EINTR)) {
    return now >= deadline_ ? next_peer(now, "connect: timed out") : Step::kPending;
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (ready < 0)
    err = errno;
  else if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    err = errno;
  if (err != 0) return next_peer(now, errno_text("connect", err));
  state_ = State::kSending;
  deadline_ = now + options_.timeout;
  return send_some(now);
}

PolledGet::Step PolledGet::send_some(TimePoint now) {
  while (sent_ < request_.size()) {
    const ssize_t n = ::send(fd_, request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
    if (n > 0) {
      sent_ += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return now >= deadline_ ? fail("send: timed out") : Step::kPending;
    }
    if (reused_ && sent_ == 0) return retry_fresh(now);
    return fail(errno_text("send", errno));
  }
  state_ = State::kReceiving;
  deadline_ = now + options_.timeout;
  return Step::kPending;
}

PolledGet::Step PolledGet::retry_fresh(TimePoint now) {
  // A pooled connection the peer had closed (an idle timeout): nothing of this exchange was
  // answered, so it is sent again, once, on a new connection.
  close();
  ++stats_.retries;
  reused_ = false;
  sent_ = 0;
  reader_.reset(options_.max_header_bytes, options_.max_body_bytes);
  return open(now);
}

PolledGet::Step PolledGet::receive(TimePoint now) {
  // Metrics answers are small; a larger one is read over several passes, each ending at EAGAIN.
  char buf[16 * 1024];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      deadline_ = now + options_.timeout;
      const auto s = reader_.feed(std::string_view(buf, static_cast<size_t>(n)));
      if (s == ResponseReader::Step::kFailed) return fail("response: " + reader_.error());
      if (s == ResponseReader::Step::kDone) {
        state_ = State::kIdle;
        if (!reader_.keep_alive() || reader_.trailing_bytes() > 0) close();
        return Step::kDone;
      }
      // A short read took all there was: the rest comes later, so no recv just to see EAGAIN.
      if (static_cast<size_t>(n) < sizeof buf) return Step::kPending;
      continue;
    }
    if (n == 0) {
      if (reused_ && reader_.bytes_seen() == 0) return retry_fresh(now);
      close();
      if (reader_.feed_eof() == ResponseReader::Step::kDone) {
        state_ = State::kIdle;
        return Step::kDone;
      }
      return fail("response: " + reader_.error());
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return now >= deadline_ ? fail("response: timed out") : Step::kPending;
    }
    if (errno == ECONNRESET && reused_ && reader_.bytes_seen() == 0) return retry_fresh(now);
    return fail(errno_text("recv", errno));
  }
}

PolledGet::Step PolledGet::poll(TimePoint now) {
  switch (state_) {
    case State::kConnecting:
      return check_connect(now);
    case State::kSending:
      return send_some(now);
    case State::kReceiving:
      return receive(now);
    case State::kIdle:
      break;
  }
  return fail("no exchange in progress");
}

}  // namespace llmd::http
