#include "http/polled_get.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/testing/refused_port.h"

namespace llmd::http {
namespace {

using namespace std::chrono_literals;
using Step = PolledGet::Step;
using tcp = boost::asio::ip::tcp;

// A loopback server that answers each request it reads (a header ending in a blank line) with
// what `script(connection, request)` returns; an empty answer closes the connection instead, and
// "<hang>" leaves it open without answering; an answer ending in "<close>" is followed by a close. Pieces of
// an answer separated by "<pause>" are written one by one with a pause between them, so that the reader sees
// them arrive apart.
class ScriptedServer {
 public:
  using Script = std::function<std::string(int connection, int request)>;

  explicit ScriptedServer(Script script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "ScriptedServer: cannot listen";
      return;
    }
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    std::lock_guard lock(mu_);
    for (int c : open_) ::shutdown(c, SHUT_RDWR);
    for (auto& t : conns_) t.join();
    for (int c : open_) ::close(c);
  }

  tcp::endpoint endpoint() const { return {boost::asio::ip::make_address("127.0.0.1"), port_}; }
  uint16_t port() const { return port_; }
  std::vector<std::string> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void accept_loop() {
    for (int n = 0;; ++n) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::lock_guard lock(mu_);
      if (stopping_) {
        ::close(c);
        return;
      }
      open_.push_back(c);
      conns_.emplace_back([this, c, n] { serve(c, n); });
    }
  }
  void serve(int c, int connection) {
    std::string in;
    char buf[4096];
    for (int request = 0;; ++request) {
      size_t end;
      while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) return;
        in.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard lock(mu_);
        requests_.push_back(in.substr(0, end + 4));
      }
      in.erase(0, end + 4);
      std::string answer = script_(connection, request);
      if (answer == "<hang>") continue;
      const bool close_after = answer.size() >= 7 && answer.compare(answer.size() - 7, 7, "<close>") == 0;
      if (close_after) answer.resize(answer.size() - 7);
      if (answer.empty()) {
        ::shutdown(c, SHUT_RDWR);
        return;
      }
      size_t from = 0;
      for (;;) {
        const size_t pause = answer.find("<pause>", from);
        const std::string piece =
            answer.substr(from, pause == std::string::npos ? std::string::npos : pause - from);
        if (::send(c, piece.data(), piece.size(), MSG_NOSIGNAL) < 0) return;
        if (pause == std::string::npos) break;
        std::this_thread::sleep_for(20ms);
        from = pause + 7;
      }
      if (close_after) {
        ::shutdown(c, SHUT_RDWR);
        return;
      }
    }
  }

  Script script_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<int> open_;
  std::vector<std::string> requests_;
};

const std::string kHello = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

// Polls until the exchange ends (bounded, so a broken one fails the test instead of hanging it).
Step finish(PolledGet& g) {
  for (int i = 0; i < 5000; ++i) {
    const Step s = g.poll(SystemClock::instance().now());
    if (s != Step::kPending) return s;
    std::this_thread::sleep_for(1ms);
  }
  return Step::kPending;
}

Step exchange(PolledGet& g) {
  const Step s = g.start(SystemClock::instance().now());
  return s == Step::kPending ? finish(g) : s;
}

TEST(PolledGet, SendsAGetAndReadsTheAnswerOnOneKeptConnection) {
  ScriptedServer server(
      [](int, int r) { return "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello" + std::to_string(r); });
  PolledGetOptions o;
  o.accept = "text/plain";
  PolledGet g({server.endpoint()}, "h:1", "/metrics?name%5B%5D=a", o);
  ASSERT_EQ(exchange(g), Step::kDone) << g.error();
  EXPECT_EQ(g.status(), 200u);
  EXPECT_EQ(g.body(), "hello0");
  EXPECT_TRUE(g.connected());
  ASSERT_EQ(exchange(g), Step::kDone) << g.error();
  EXPECT_EQ(g.body(), "hello1");
  EXPECT_EQ(g.stats().connects, 1u);
  EXPECT_EQ(g.stats().reused, 1u);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(
      reqs[0],
      "GET /metrics?name%5B%5D=a HTTP/1.1\r\nHost: h:1\r\nAccept: text/plain\r\nUser-Agent: llmd\r\n\r\n");
}

TEST(PolledGet, ReadsAChunkedAnswerThatArrivesInPieces) {
  ScriptedServer server([](int, int) {
    return std::string(
        "HTTP/1.1 200 OK\r\nTransfer-Enc<pause>oding: "
        "chunked\r\n\r\n3\r\nabc\r\n<pause>2\r\nde\r\n0\r\n\r\n");
  });
  PolledGet g({server.endpoint()}, "h", "/m");
  ASSERT_EQ(exchange(g), Step::kDone) << g.error();
  EXPECT_EQ(g.status(), 200u);
  EXPECT_EQ(g.body(), "abcde");
  EXPECT_TRUE(g.connected());
}

TEST(PolledGet, CloseDelimitedAndConnectionCloseAnswersEndTheConnection) {
  ScriptedServer server([](int c, int) -> std::string {
    if (c == 0) return "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno";
    return "HTTP/1.0 200 OK\r\n\r\nuntil the<pause> end<close>";
  });
  PolledGet g({server.endpoint()}, "h", "/m");
  ASSERT_EQ(exchange(g), Step::kDone) << g.error();
  EXPECT_EQ(g.status(), 503u);
  EXPECT_EQ(g.body(), "no");
  EXPECT_FALSE(g.connected());
  // The body has no length, so it ends when the server closes the connection.
  ASSERT_EQ(exchange(g), Step::kDone) << g.error();
  EXPECT_EQ(g.body(), "until the end");
  EXPECT_FALSE(g.connected());
  EXPECT_EQ(g.stats().connects, 2u);
}

TEST(PolledGet, AKeptConnectionThePeerClosedIsReplacedOnce) {
  // Connection 0 answers once and then closes instead of answering again; connection 1 answers.
  ScriptedServer server([](int c, int r) -> std::string { return c == 0 && r == 1 ? "" : kHello; });
  PolledGet g({server.endpoint()}, "h", "/m");
  ASSERT_EQ(exchange(g), Step::kDone) << g.error();
  ASSERT_EQ(exchange(g), Step::kDone) << g.error();
  EXPECT_EQ(g.body(), "hello");
  EXPECT_EQ(g.stats().retries, 1u);
  EXPECT_EQ(g.stats().connects, 2u);
}

TEST(PolledGet, ARefusedPeerFailsOrGivesWayToTheNext) {
  testing::RefusedPort refused;
  const tcp::endpoint dead(boost::asio::ip::make_address("127.0.0.1"), refused.port());
  PolledGet alone({dead}, "h", "/m");
  ASSERT_EQ(exchange(alone), Step::kFailed);
  EXPECT_NE(alone.error().find("connect"), std::string::npos) << alone.error();
  EXPECT_FALSE(alone.in_progress());

  ScriptedServer server([](int, int) { return kHello; });
  PolledGet both({dead, server.endpoint()}, "h", "/m");
  ASSERT_EQ(exchange(both), Step::kDone) << both.error();
  EXPECT_EQ(both.body(), "hello");
  ASSERT_EQ(exchange(both), Step::kDone) << both.error();  // stays with the peer that worked
  EXPECT_EQ(both.stats().connects, 2u);
}

TEST(PolledGet, AnAnswerThatDoesNotComeTimesOut) {
  ScriptedServer server([](int, int) { return std::string("<hang>"); });
  PolledGetOptions o;
  o.timeout = 1s;
  PolledGet g({server.endpoint()}, "h", "/m", o);
  const auto t0 = SystemClock::instance().now();
  ASSERT_EQ(g.start(t0), Step::kPending);
  // The request reaches the server (so the exchange is waiting for the answer, not connecting).
  for (int i = 0; i < 5000 && server.requests().empty(); ++i) {
    ASSERT_EQ(g.poll(t0), Step::kPending);
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(g.poll(t0 + 500ms), Step::kPending);
  EXPECT_EQ(g.poll(t0 + 2s), Step::kFailed);
  EXPECT_NE(g.error().find("timed out"), std::string::npos) << g.error();
  EXPECT_FALSE(g.connected());
}

TEST(PolledGet, BadAnswersFailAndCloseTheConnection) {
  ScriptedServer server([](int c, int) -> std::string {
    switch (c) {
      case 0:
        return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ntoo big";
      case 1:
        return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc<close>";
      case 2:
        return "NOT HTTP AT ALL\r\n\r\n";
      default:
        return kHello + "HTTP/1.1 200 OK\r\n";  // bytes after the answer
    }
  });
  PolledGetOptions o;
  o.max_body_bytes = 50;
  PolledGet g({server.endpoint()}, "h", "/m", o);
  EXPECT_EQ(exchange(g), Step::kFailed);
  EXPECT_NE(g.error().find("body limit"), std::string::npos) << g.error();
  EXPECT_FALSE(g.connected());
  EXPECT_EQ(exchange(g), Step::kFailed);  // truncated: the server closes after 3 of 10 bytes
  EXPECT_FALSE(g.connected());
  EXPECT_EQ(exchange(g), Step::kFailed);
  EXPECT_NE(g.error().find("response"), std::string::npos) << g.error();
  // Trailing bytes: the answer is good, but the connection is not kept.
  EXPECT_EQ(exchange(g), Step::kDone) << g.error();
  EXPECT_EQ(g.body(), "hello");
  EXPECT_FALSE(g.connected());
}

TEST(PolledGet, RefusesToSendAnUnsendableTarget) {
  ScriptedServer server([](int, int) { return kHello; });
  PolledGet g({server.endpoint()}, "h", "/m HTTP/1.1\r\nX-Evil: 1");
  EXPECT_EQ(g.start(SystemClock::instance().now()), Step::kFailed);
  EXPECT_TRUE(server.requests().empty());
}

TEST(ResponseReader, ReadsTheSameAnswerFedWholeOrByteByByte) {
  const std::string stream =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n4;ext=1\r\nwxyz\r\n0\r\n\r\n";
  ResponseReader whole;
  whole.reset(1024, 1024);
  ASSERT_EQ(whole.feed(stream), ResponseReader::Step::kDone) << whole.error();
  EXPECT_EQ(whole.body(), "wxyz");
  EXPECT_TRUE(whole.keep_alive());

  ResponseReader bytes;
  bytes.reset(1024, 1024);
  ResponseReader::Step s = ResponseReader::Step::kNeedMore;
  for (size_t i = 0; i < stream.size(); ++i) {
    s = bytes.feed(stream.substr(i, 1));
    if (i + 1 < stream.size()) {
      ASSERT_EQ(s, ResponseReader::Step::kNeedMore) << i << " " << bytes.error();
    }
  }
  EXPECT_EQ(s, ResponseReader::Step::kDone);
  EXPECT_EQ(bytes.status(), 200u);
  EXPECT_EQ(bytes.body(), "wxyz");
  EXPECT_EQ(bytes.trailing_bytes(), 0u);

  // Reused: a new answer replaces the old body.
  bytes.reset(1024, 1024);
  EXPECT_EQ(bytes.feed("HTTP/1.1 204 No Content\r\n\r\n"), ResponseReader::Step::kDone);
  EXPECT_EQ(bytes.status(), 204u);
  EXPECT_EQ(bytes.body(), "");
}

TEST(ResponseReader, HeadersPastTheLimitFail) {
  ResponseReader r;
  r.reset(64, 1024);
  const std::string big = "HTTP/1.1 200 OK\r\nX-Long: " + std::string(100, 'a');
  ResponseReader::Step s = ResponseReader::Step::kNeedMore;
  for (size_t i = 0; i < big.size() && s == ResponseReader::Step::kNeedMore; i += 10)
    s = r.feed(big.substr(i, 10));
  EXPECT_EQ(s, ResponseReader::Step::kFailed);
  EXPECT_EQ(r.feed_eof(), ResponseReader::Step::kFailed);
}

TEST(ResponseReader, EofEndsOnlyACloseDelimitedBody) {
  ResponseReader r;
  r.reset(1024, 1024);
  EXPECT_EQ(r.feed("HTTP/1.1 200 OK\r\n\r\nab"), ResponseReader::Step::kNeedMore);
  EXPECT_EQ(r.feed_eof(), ResponseReader::Step::kDone);
  EXPECT_EQ(r.body(), "ab");
  EXPECT_FALSE(r.keep_alive());

  r.reset(1024, 1024);
  EXPECT_EQ(r.feed("HTTP/1.1 200 OK\r\nContent-Len"), ResponseReader::Step::kNeedMore);
  EXPECT_EQ(r.feed_eof(), ResponseReader::Step::kFailed);
}

}  // namespace
}  // namespace llmd::http
