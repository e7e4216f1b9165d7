#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include "http/server.h"

namespace llmd::http {
namespace {

// Records what a handler sent.
class FakeResponder final : public Responder {
 public:
  Awaitable<bool> send(Response res) override {
    sent = std::move(res);
    co_return true;
  }
  Awaitable<bool> send_relayed(const WireHead&, std::string_view) override { co_return false; }
  Awaitable<bool> begin_stream(ResponseHead) override { co_return false; }
  Awaitable<bool> write(std::string_view) override { co_return false; }
  Awaitable<bool> write_sse(std::string_view) override { co_return false; }
  Awaitable<bool> finish() override { co_return false; }
  bool started() const override { return sent.has_value(); }
  bool client_gone() const override { return false; }
  const std::string& peer() const override { return peer_; }
  unsigned worker() const override { return 0; }
  void abort() override {}

  std::optional<Response> sent;

 private:
  std::string peer_ = "127.0.0.1:1";
};

Handler replying(std::string text) {
  return [text](Request&, Responder& res) -> Awaitable<void> {
    co_await res.send(json_response(Status::ok, text));
  };
}

// Routes a request and runs the chosen handler; returns what it sent.
Response dispatch(const Router& router, Verb method, std::string target) {
  Request req{method, target, 11};
  FakeResponder res;
  boost::asio::io_context ioc;
  boost::asio::co_spawn(ioc, router.route(method, target)(req, res), boost::asio::detached);
  ioc.run();
  EXPECT_TRUE(res.sent.has_value());
  return res.sent ? std::move(*res.sent) : Response{};
}

TEST(Router, ExactMatchByMethodAndPath) {
  Router r;
  r.add(Verb::get, "/v1/models", replying("models"));
  r.add(Verb::post, "/v1/completions", replying("completions"));
  r.add(Verb::get, "/v1/completions", replying("completions-get"));
  EXPECT_EQ(dispatch(r, Verb::get, "/v1/models").body(), "models");
  EXPECT_EQ(dispatch(r, Verb::post, "/v1/completions").body(), "completions");
  EXPECT_EQ(dispatch(r, Verb::get, "/v1/completions").body(), "completions-get");
}

TEST(Router, QueryStringIsIgnored) {
  Router r;
  r.add(Verb::get, "/metrics", replying("metrics"));
  EXPECT_EQ(dispatch(r, Verb::get, "/metrics?name=x&y=2").body(), "metrics");
  EXPECT_EQ(dispatch(r, Verb::get, "/metrics#frag").body(), "metrics");
}

TEST(Router, UnknownPathIs404InOpenAiFormat) {
  Router r;
  r.add(Verb::get, "/health", replying("ok"));
  const Response res = dispatch(r, Verb::get, "/nope");
  EXPECT_EQ(res.result(), Status::not_found);
  const auto err = boost::json::parse(res.body()).at("error");
  EXPECT_EQ(err.at("code").as_int64(), 404);
  EXPECT_NE(std::string(err.at("message").as_string()).find("/nope"), std::string::npos);
}

TEST(Router, KnownPathOtherMethodIs405) {
  Router r;
  r.add(Verb::post, "/v1/chat/completions", replying("chat"));
  const Response res = dispatch(r, Verb::get, "/v1/chat/completions");
  EXPECT_EQ(res.result(), Status::method_not_allowed);
  EXPECT_EQ(boost::json::parse(res.body()).at("error").at("code").as_int64(), 405);
}

TEST(Router, HeadFallsBackToGet) {
  Router r;
  r.add(Verb::get, "/health", replying("healthy"));
  EXPECT_EQ(dispatch(r, Verb::head, "/health").body(), "healthy");
  r.add(Verb::head, "/health", replying("head"));
  EXPECT_EQ(dispatch(r, Verb::head, "/health").body(), "head");
}

TEST(Router, LongestPrefixWinsAndExactBeatsPrefix) {
  Router r;
  r.add_prefix("/v1/", replying("v1"));
  r.add_prefix("/v1/admin/", replying("admin"));
  r.add_prefix("/", replying("root"));
  r.add(Verb::get, "/v1/models", replying("models"));
  EXPECT_EQ(dispatch(r, Verb::get, "/v1/models").body(), "models");
  EXPECT_EQ(dispatch(r, Verb::post, "/v1/admin/config").body(), "admin");
  EXPECT_EQ(dispatch(r, Verb::delete_, "/v1/other").body(), "v1");
  EXPECT_EQ(dispatch(r, Verb::get, "/other").body(), "root");
}

TEST(Router, ReAddingReplacesTheHandler) {
  Router r;
  r.add(Verb::get, "/x", replying("one"));
  r.add(Verb::get, "/x", replying("two"));
  r.add_prefix("/p", replying("p1"));
  r.add_prefix("/p", replying("p2"));
  EXPECT_EQ(dispatch(r, Verb::get, "/x").body(), "two");
  EXPECT_EQ(dispatch(r, Verb::get, "/pq").body(), "p2");
}

TEST(Router, CustomFallback) {
  Router r;
  r.set_fallback(replying("fallback"));
  EXPECT_EQ(dispatch(r, Verb::put, "/anything").body(), "fallback");
}

}  // namespace
}  // namespace llmd::http
