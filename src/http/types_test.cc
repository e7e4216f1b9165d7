#include "http/types.h"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace llmd::http {
namespace {

boost::json::object parse_error(const std::string& body) {
  return boost::json::parse(body).as_object().at("error").as_object();
}

TEST(OpenAiErrorBody, CarriesMessageTypeParamAndCode) {
  const auto e = parse_error(openai_error_body(Status::not_found, "model foo not found"));
  EXPECT_EQ(e.at("message").as_string(), "model foo not found");
  EXPECT_EQ(e.at("type").as_string(), "NotFoundError");
  EXPECT_TRUE(e.at("param").is_null());
  EXPECT_EQ(e.at("code").as_int64(), 404);
}

TEST(OpenAiErrorBody, TypeDefaultsFromStatus) {
  EXPECT_EQ(parse_error(openai_error_body(Status::bad_request, "x")).at("type").as_string(),
            "BadRequestError");
  EXPECT_EQ(parse_error(openai_error_body(Status::payload_too_large, "x")).at("type").as_string(),
            "PayloadTooLargeError");
  EXPECT_EQ(
      parse_error(openai_error_body(Status::request_header_fields_too_large, "x")).at("type").as_string(),
      "HeadersTooLargeError");
  EXPECT_EQ(parse_error(openai_error_body(Status::too_many_requests, "x")).at("type").as_string(),
            "RateLimitError");
  EXPECT_EQ(parse_error(openai_error_body(Status::service_unavailable, "x")).at("type").as_string(),
            "ServiceUnavailableError");
  EXPECT_EQ(parse_error(openai_error_body(Status::internal_server_error, "x")).at("type").as_string(),
            "InternalServerError");
  // An unlisted 4xx is still a client error.
  EXPECT_EQ(parse_error(openai_error_body(Status::conflict, "x")).at("type").as_string(), "BadRequestError");
}

TEST(OpenAiErrorBody, ExplicitTypeWins) {
  EXPECT_TRUE(parse_error(openai_error_body(Status::bad_request, "m")).at("param").is_null());
  EXPECT_EQ(parse_error(openai_error_body(Status::bad_request, "m", {}, "messages[0].role"))
                .at("param")
                .as_string(),
            "messages[0].role");
  const auto e = parse_error(openai_error_body(Status::bad_request, "m", "invalid_request_error"));
  EXPECT_EQ(e.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(e.at("code").as_int64(), 400);
}

TEST(OpenAiErrorBody, EscapesTheMessage) {
  const std::string message = "bad \"field\"\n\tback\\slash \x01 caf\xC3\xA9";
  const std::string body = openai_error_body(Status::bad_request, message);
  EXPECT_EQ(body.find('\n'), std::string::npos);
  EXPECT_EQ(parse_error(body).at("message").as_string(), message);
}

TEST(JsonResponse, SetsStatusTypeBodyAndKeepAlive) {
  Response r = json_response(Status::created, R"({"a":1})", 11, false);
  EXPECT_EQ(r.result(), Status::created);
  EXPECT_EQ(r[Field::content_type], "application/json");
  EXPECT_EQ(r.body(), R"({"a":1})");
  EXPECT_FALSE(r.keep_alive());
  EXPECT_EQ(r.version(), 11u);
}

TEST(ErrorResponse, BodyIsOpenAiError) {
  Response r = error_response(Status::service_unavailable, "no capacity", 10, true);
  EXPECT_EQ(r.result(), Status::service_unavailable);
  EXPECT_TRUE(r.keep_alive());
  EXPECT_EQ(r.version(), 10u);
  EXPECT_EQ(parse_error(r.body()).at("message").as_string(), "no capacity");
  EXPECT_EQ(parse_error(r.body()).at("code").as_int64(), 503);
}

}  // namespace
}  // namespace llmd::http

namespace llmd::http {
namespace {

TEST(QueryValues, DecodesRepeatedKeysInOrder) {
  const std::string target =
      "/metrics?name%5B%5D=vllm%3Anum_requests_waiting&x=1&name[]=vllm:kv_cache_usage_perc";
  EXPECT_EQ(query_values(target, "name[]"),
            (std::vector<std::string>{"vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"}));
  EXPECT_EQ(query_values(target, "x"), (std::vector<std::string>{"1"}));
  EXPECT_TRUE(query_values(target, "name").empty());
  EXPECT_TRUE(query_values("/metrics", "name[]").empty());
  EXPECT_EQ(query_values("/p?a=b+c%20d", "a"), (std::vector<std::string>{"b c d"}));
}

TEST(QueryValues, BadEscapesGiveNoneAndBareKeysAreEmpty) {
  EXPECT_TRUE(query_values("/m?a=%zz", "a").empty());
  EXPECT_EQ(query_values("/m?a=1&b", "b"), (std::vector<std::string>{""}));
}

TEST(WireHead, AddKeepsLinesAsGivenAndTracksTheServersHeaders) {
  WireHead h;
  h.add("Content-Type", "application/json");
  h.add("date", "Sat, 21 Nov 2026 00:00:00 GMT");
  EXPECT_EQ(h.lines(), "Content-Type: application/json\r\ndate: Sat, 21 Nov 2026 00:00:00 GMT\r\n");
  EXPECT_TRUE(h.has_date());
  EXPECT_FALSE(h.has_server());
  EXPECT_FALSE(h.has_content_length());
  h.add("SERVER", "vllm");
  h.add("Content-Length", "3");
  EXPECT_TRUE(h.has_server());
  EXPECT_TRUE(h.has_content_length());
  h.clear();
  EXPECT_EQ(h.lines(), "");
  EXPECT_FALSE(h.has_date() || h.has_server() || h.has_content_length());
}

TEST(WireHead, FindIgnoresCaseAndLeadingSpace) {
  WireHead h;
  h.add("Content-Type", "text/event-stream");
  h.add("X-A", "1");
  h.add("x-a", "2");
  EXPECT_EQ(h.find("content-type"), "text/event-stream");
  EXPECT_EQ(h.find("X-A"), "1");
  EXPECT_EQ(h.find("x-missing"), "");
  EXPECT_EQ(h.find("x"), "");  // a name, not a prefix
}

TEST(WireHead, SetReplacesEveryLineOfThatName) {
  WireHead h;
  h.add("X-Request-Id", "from-upstream");
  h.add("Content-Type", "application/json");
  h.add("x-request-id", "again");
  h.add("Date", "d");
  h.set("x-request-id", "ours");
  EXPECT_EQ(h.lines(), "Content-Type: application/json\r\nDate: d\r\nx-request-id: ours\r\n");
  h.set("date", "e");
  EXPECT_EQ(h.lines(), "Content-Type: application/json\r\nx-request-id: ours\r\ndate: e\r\n");
  EXPECT_TRUE(h.has_date());
  h.set("X-New", "n");
  EXPECT_EQ(h.find("x-new"), "n");
}

TEST(HopByHop, ConnectionLevelHeadersOnly) {
  for (Field f :
       {Field::connection, Field::keep_alive, Field::proxy_connection, Field::transfer_encoding, Field::te,
        Field::trailer, Field::upgrade, Field::proxy_authenticate, Field::proxy_authorization}) {
    EXPECT_TRUE(is_hop_by_hop(f)) << bhttp::to_string(f);
  }
  for (Field f : {Field::host, Field::content_length, Field::content_type, Field::date, Field::unknown}) {
    EXPECT_FALSE(is_hop_by_hop(f)) << bhttp::to_string(f);
  }
}

TEST(Unsent, ResumesInsideTheHeadAtItsEndAndInsideTheBody) {
  const std::string head = "HEAD:";
  const std::string body = "body";
  auto rest = [&](size_t sent) {
    std::string out;
    for (const auto& b : unsent(head, body, sent)) out.append(static_cast<const char*>(b.data()), b.size());
    return out;
  };
  EXPECT_EQ(rest(0), "HEAD:body");
  EXPECT_EQ(rest(2), "AD:body");
  EXPECT_EQ(rest(5), "body");
  EXPECT_EQ(rest(7), "dy");
  EXPECT_EQ(rest(9), "");
  EXPECT_EQ(unsent(head, body, 7)[0].size(), 0u);  // nothing of the head is sent twice
}

TEST(ConnectionOptions, NamesListedInConnectionAreHopByHop) {
  Request req{Verb::post, "/v1/completions", 11};
  req.insert(Field::connection, "keep-alive, X-Secret-Route , Upgrade");
  req.insert(Field::connection, "close,x-other");
  std::vector<std::string> options = {"stale"};
  connection_options(req, options);
  EXPECT_EQ(options, (std::vector<std::string>{"x-secret-route", "upgrade", "x-other"}));
  EXPECT_TRUE(is_connection_option("X-Other", options));
  EXPECT_FALSE(is_connection_option("x-request-id", options));
  connection_options(Request{Verb::get, "/", 11}, options);
  EXPECT_TRUE(options.empty());
}

}  // namespace
}  // namespace llmd::http
