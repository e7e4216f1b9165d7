// RFC 9112 message framing, one case per rule, against the HTTP server in process and against
// `llmd sim` and `llmd router` as black boxes. Every smuggling case sends a request whose framing is
// faulty followed by a second, well-formed request: the server must answer the first with the error
// and close, so the second is never read as a request (one response, not two).
// Variants come from the public request-smuggling literature: CL.TE, TE.CL, TE.TE with obfuscated
// Transfer-Encoding values, duplicate and malformed Content-Length, chunk-size tricks, bare LF and
// whitespace before the colon.

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/server.h"
#include "support/process.h"
#include "support/raw_socket.h"

namespace llmd {
namespace {

using testing::RawSocket;

// The well-formed request smuggled behind each faulty one.
constexpr std::string_view kSmuggled = "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

struct Case {
  std::string name;   // RFC section and rule
  std::string bytes;  // sent as one write, kSmuggled appended for smuggling cases
  int status;         // of the first response
  bool smuggling;     // exactly one response and a close are expected
};

std::string post(std::string_view framing_headers, std::string_view body) {
  return "POST /v1/completions HTTP/1.1\r\nHost: x\r\n" + std::string(framing_headers) + "\r\n" +
         std::string(body);
}

std::vector<Case> cases() {
  return {
      // §6.1 / §6.3: chunked must be the final transfer coding of a request; others are not implemented.
      {"Rfc9112_6_3_TransferEncodingGzipAlone", post("Transfer-Encoding: gzip\r\n", ""), 400, true},
      {"Rfc9112_6_3_ChunkedNotLast", post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"), 400,
       true},
      {"Rfc9112_6_3_IdentityAlone", post("Transfer-Encoding: identity\r\n", ""), 400, true},
      {"Rfc9112_6_1_UnimplementedCodingBeforeChunked",
       post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"), 501, true},
      {"Rfc9112_6_3_ChunkedTwiceInOneLine", post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"), 400,
       true},
      {"Rfc9112_6_3_TeTeSecondLineNotChunked",
       post("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n", "0\r\n\r\n"), 400, true},
      {"Rfc9112_6_3_TeTeChunkedTwoLines",
       post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), 400, true},
      {"Rfc9112_6_3_TeObfuscatedPrefix", post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"), 400, true},
      {"Rfc9112_6_3_TeQuotedValue", post("Transfer-Encoding: \"chunked\"\r\n", "0\r\n\r\n"), 400, true},
      {"Rfc9112_6_3_TeWithParameter", post("Transfer-Encoding: chunked;q=1\r\n", "0\r\n\r\n"), 400, true},
      {"Rfc9112_6_3_TeEmptyValue", post("Transfer-Encoding: \r\n", ""), 400, true},
      // §6.3: Transfer-Encoding and Content-Length together (CL.TE and TE.CL).
      {"Rfc9112_6_3_ClTe", post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\nG"), 400,
       true},
      {"Rfc9112_6_3_TeCl", post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", "5c\r\nGPOST"), 400,
       true},
      {"Rfc9112_6_3_TeGzipThenCl", post("Transfer-Encoding: gzip\r\nContent-Length: 5\r\n", "hello"), 400,
       true},
      // §6.1: HTTP/1.0 has no transfer codings.
      {"Rfc9112_6_1_TransferEncodingInHttp10",
       "POST /v1/completions HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, true},
      // §8.6 (RFC 9110) / §6.3: Content-Length must be one valid value.
      {"Rfc9110_8_6_DuplicateContentLengthSameValue",
       post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"), 400, true},
      {"Rfc9110_8_6_ContentLengthList", post("Content-Length: 5, 5\r\n", "hello"), 400, true},
      {"Rfc9110_8_6_ConflictingContentLength", post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"),
       400, true},
      {"Rfc9110_8_6_ContentLengthSigned", post("Content-Length: +5\r\n", "hello"), 400, true},
      {"Rfc9110_8_6_ContentLengthHex", post("Content-Length: 0x5\r\n", "hello"), 400, true},
      {"Rfc9110_8_6_ContentLengthNegative", post("Content-Length: -1\r\n", ""), 400, true},
      // §7.1: chunk sizes.
      {"Rfc9112_7_1_ChunkSizeNotHex", post("Transfer-Encoding: chunked\r\n", "5x\r\nhello\r\n0\r\n\r\n"), 400,
       true},
      {"Rfc9112_7_1_ChunkSizeOverflow",
       post("Transfer-Encoding: chunked\r\n", "fffffffffffffffff1\r\nhello\r\n0\r\n\r\n"), 400, true},
      // §7.1.1: a chunk-size line whose extension never ends must not grow the buffer without bound.
      {"Rfc9112_7_1_1_EndlessChunkExtension",
       post("Transfer-Encoding: chunked\r\n", "1;ext=" + std::string(512 * 1024, 'a')), 400, true},
      {"Rfc9112_7_1_ChunkDataLongerThanSize",
       post("Transfer-Encoding: chunked\r\n", "3\r\nhello\r\n0\r\n\r\n"), 400, true},
      // §2.2: bare LF as a line terminator; §5.1: whitespace between field name and colon.
      {"Rfc9112_2_2_BareLfInHeaders", "POST /v1/completions HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello",
       400, true},
      {"Rfc9112_5_1_WhitespaceBeforeColonTe", post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n"), 400,
       true},
      {"Rfc9112_5_1_WhitespaceBeforeColonCl", post("Content-Length : 5\r\n", "hello"), 400, true},
      // Well-formed framings that must keep working: the second request then gets its own answer.
      {"Rfc9112_7_1_1_ChunkExtensionsAreIgnored",
       "GET /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
       "chunked\r\n\r\n2;ext=\"v\"\r\nhi\r\n0\r\n\r\n",
       200, false},
      {"Rfc9112_6_1_ChunkedIsCaseInsensitive",
       "GET /v1/models HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n", 200, false},
      {"Rfc9112_3_2_2_AbsoluteFormIsAccepted",
       "GET http://other.example/v1/models HTTP/1.1\r\nHost: x\r\n\r\n", 200, false},
  };
}

// Where the cases are sent: a server in process, or an llmd process.
class Target {
 public:
  virtual ~Target() = default;
  virtual uint16_t port() const = 0;
  virtual std::string logs() const { return {}; }
};

class InProcess final : public Target {
 public:
  InProcess() : server_(options(), router()) {
    auto r = server_.start();
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  }
  ~InProcess() override {
    server_.drain();
    server_.wait();
  }
  uint16_t port() const override { return server_.port(); }

 private:
  static http::ServerOptions options() {
    http::ServerOptions o;
    o.host = "127.0.0.1";
    o.threads = 1;
    return o;
  }
  static http::Router router() {
    http::Router r;
    r.add(http::Verb::get, "/v1/models",
          [](http::Request& req, http::Responder& res) -> http::Awaitable<void> {
            co_await res.send(http::json_response(http::Status::ok, R"({"object":"list","data":[]})",
                                                  req.version(), req.keep_alive()));
          });
    return r;
  }
  http::Server server_;
};

class Sim final : public Target {
 public:
  Sim() {
    started_ = testing::spawn_llmd_listening(1, [](uint16_t port) {
      return std::vector<std::string>{"sim",       "--host", "127.0.0.1", "--port", std::to_string(port),
                                      "--profile", "instant"};
    });
    EXPECT_TRUE(started_.ready) << started_.process.output();
  }
  uint16_t port() const override { return started_.port; }
  std::string logs() const override { return started_.process.output(); }

 private:
  testing::Listening started_;
};

class Router final : public Target {
 public:
  Router() {
    const uint16_t sim_port = sim_.port();
    started_ = testing::spawn_router(1, {"--endpoint", "127.0.0.1:" + std::to_string(sim_port)});
    EXPECT_TRUE(started_.ready) << started_.process.output();
    // /v1/models needs a ready endpoint: wait until the first scrape has made one.
    for (int i = 0; i < 1500; ++i) {
      RawSocket s(static_cast<uint16_t>(started_.port + 1));
      if (s.send("GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") &&
          s.read_to_close().rfind("HTTP/1.1 200", 0) == 0) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "the router never became ready: " << started_.process.output();
  }
  uint16_t port() const override { return started_.port; }
  std::string logs() const override { return started_.process.output() + sim_.logs(); }

 private:
  Sim sim_;
  testing::Listening started_;
};

enum class Kind { kInProcess, kSim, kRouter };

// One process per target for the whole suite: starting them per case would dominate the run time.
Target& target(Kind k) {
  static std::unique_ptr<Target> targets[3];
  auto& t = targets[static_cast<int>(k)];
  if (!t) {
    switch (k) {
      case Kind::kInProcess:
        t = std::make_unique<InProcess>();
        break;
      case Kind::kSim:
        t = std::make_unique<Sim>();
        break;
      case Kind::kRouter:
        t = std::make_unique<Router>();
        break;
    }
  }
  return *t;
}

class Framing : public ::testing::TestWithParam<std::tuple<Kind, Case>> {};

TEST_P(Framing, AnswersAndClosesAsRfc9112Says) {
  const auto& [kind, c] = GetParam();
  Target& t = target(kind);
  RawSocket s(t.port());
  ASSERT_TRUE(s.connected());
  std::string bytes = c.bytes;
  if (c.smuggling) bytes += kSmuggled;
  if (!c.smuggling) bytes += "GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_TRUE(s.send(bytes));
  bool closed = false;
  const std::string reply = s.read_to_close(&closed);
  EXPECT_TRUE(closed) << "the connection stayed open";
  const std::vector<int> statuses = testing::response_statuses(reply);
  ASSERT_FALSE(statuses.empty()) << reply;
  EXPECT_EQ(statuses.front(), c.status) << reply;
  if (c.smuggling) {
    EXPECT_EQ(statuses.size(), 1u) << "bytes after the framing fault were read as a request:\n" << reply;
  } else {
    EXPECT_EQ(statuses, (std::vector<int>{c.status, 200})) << reply;
  }
}

std::string case_name(const ::testing::TestParamInfo<std::tuple<Kind, Case>>& info) {
  static const char* const kKinds[] = {"Server", "Sim", "Router"};
  return std::string(kKinds[static_cast<int>(std::get<0>(info.param))]) + "_" + std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(Rfc9112, Framing,
                         ::testing::Combine(::testing::Values(Kind::kInProcess, Kind::kSim, Kind::kRouter),
                                            ::testing::ValuesIn(cases())),
                         case_name);

}  // namespace
}  // namespace llmd
