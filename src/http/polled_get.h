#pragma once
// A keep-alive HTTP/1.1 GET on one connection, advanced by explicit non-blocking steps instead of an
// event loop: start() writes the request, poll() reads whatever has arrived. A caller that runs many
// of them (the router's metrics scrapes) starts them all in one pass and collects the answers in a
// later one, so an exchange costs one send and, as a rule, one recv, and nothing else: no reactor
// registration or wake-up, no handler, timer or coroutine frame per operation.
//
// Sockets are driven with POSIX calls by hand because asio's sockets register with a reactor, whose
// per-event work is what this avoids. The HTTP framing is Beast's parser (status line, fields,
// Content-Length, chunked and close-delimited bodies, size limits), used through its callback
// interface, which keeps no fields and so allocates nothing once the buffers are warm.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "common/clock.h"

namespace llmd::http {

// Incremental reader of one HTTP/1.x response: the status and the body; the fields are only
// checked. Body bytes are appended to a string whose capacity survives reset().
class ResponseReader {
 public:
  enum class Step { kNeedMore, kDone, kFailed };

  ResponseReader();  // ready for a response, with 64 KB header and 8 MB body limits
  ~ResponseReader();
  ResponseReader(const ResponseReader&) = delete;  // the parser refers to body_
  ResponseReader& operator=(const ResponseReader&) = delete;

  // Begins a new response.
  void reset(size_t max_header_bytes, size_t max_body_bytes);
  // Feeds the next bytes of the stream. kDone once the response is complete; bytes past its end
  // are counted in trailing_bytes() (a server that sent them cannot be trusted with the connection).
  Step feed(std::string_view bytes);
  // The peer closed the connection: completes a close-delimited body, fails anything else.
  Step feed_eof();

  unsigned status() const { return status_; }
  std::string_view body() const { return body_; }
  // Whether the connection may carry another request after this response.
  bool keep_alive() const { return keep_alive_; }
  size_t trailing_bytes() const { return trailing_; }
  // Bytes fed since reset(), the response's and any trailing ones.
  size_t bytes_seen() const { return seen_; }
  const std::string& error() const { return error_; }

 private:
  class Parser;
  Step put(std::string_view bytes);

  std::unique_ptr<Parser> parser_;
  std::string pending_;  // an incomplete header, kept until the rest arrives (Beast needs it whole)
  std::string body_;
  std::string error_;
  unsigned status_ = 0;
  bool keep_alive_ = false;
  bool done_ = false;
  size_t trailing_ = 0;
  size_t seen_ = 0;
  size_t max_header_ = 0;
};

struct PolledGetOptions {
  // Bounds the connect and then every wait for response bytes: an exchange fails after this long
  // without progress.
  std::chrono::milliseconds timeout{1000};
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 8 * 1024 * 1024;
  std::string accept = "*/*";  // the Accept header
};

struct PolledGetStats {
  uint64_t connects = 0;  // connections opened
  uint64_t reused = 0;    // exchanges started on an already open connection
  uint64_t retries = 0;   // exchanges resent on a fresh connection after a reused one proved closed
};

class PolledGet {
 public:
  // The caller's Clock::now(): deadlines follow the clock the caller schedules its passes by.
  using TimePoint = Nanos;
  enum class Step { kPending, kDone, kFailed };

  // `peers` are tried in order when connecting (a resolved name's addresses); `host` is the Host
  // header and `target` the request-target, e.g. "/metrics?name%5B%5D=x".
  PolledGet(std::vector<boost::asio::ip::tcp::endpoint> peers, std::string_view host, std::string_view target,
            PolledGetOptions options = {});
  ~PolledGet();  // closes the connection
  PolledGet(const PolledGet&) = delete;
  PolledGet& operator=(const PolledGet&) = delete;

  // Begins an exchange (none may be in progress): writes the request on the open connection, or
  // starts opening one. kFailed when that fails at once (error() says why); otherwise kPending.
  Step start(TimePoint now);
  // Advances the exchange with non-blocking calls only. kDone: status() and body() hold the answer
  // until the next start(). kFailed: error() says why and the connection is closed. A connection
  // reused from an earlier exchange that turns out closed by the peer before any answer byte is
  // replaced once, transparently.
  Step poll(TimePoint now);

  bool in_progress() const { return state_ != State::kIdle; }
  unsigned status() const { return reader_.status(); }
  std::string_view body() const { return reader_.body(); }
  const std::string& error() const { return error_; }
  bool connected() const { return fd_ >= 0; }
  const PolledGetStats& stats() const { return stats_; }

 private:
  enum class State { kIdle, kConnecting, kSending, kReceiving };

  Step fail(std::string why);
  Step open(TimePoint now);  // from peer_, moving on to the next peer when one fails
  Step next_peer(TimePoint now, std::string why);
  Step check_connect(TimePoint now);
  Step send_some(TimePoint now);
  Step receive(TimePoint now);
  Step retry_fresh(TimePoint now);
  void close();

  const std::vector<boost::asio::ip::tcp::endpoint> peers_;
  const PolledGetOptions options_;
  std::string request_;  // empty when the host or target cannot be sent
  size_t peer_ = 0;      // the peer to connect to next; stays on the one that worked
  size_t tried_ = 0;     // peers tried in this exchange
  int fd_ = -1;
  State state_ = State::kIdle;
  size_t sent_ = 0;
  bool reused_ = false;  // this exchange runs on a connection opened for an earlier one
  TimePoint deadline_{};
  ResponseReader reader_;
  std::string error_;
  PolledGetStats stats_;
};

}  // namespace llmd::http
