// The ext_proc message sequences Envoy plays, fed to a Processor one message at a time: each body
// mode, bodies over 62,000 bytes in many chunks, subset hints, streamed and buffered responses,
// trailers, errors and messages out of order.

#include "extproc/processor.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "extproc/testing/envoy_messages.h"
#include "sched/builtin_plugins.h"
#include "sched/picker_config.h"

namespace llmd::extproc {
namespace {

namespace core = envoy::config::core::v3;

class ProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 1; i <= 3; ++i) {
      sched::EndpointSpec spec;
      spec.id = "default/pod" + std::to_string(i) + "-rank-0";
      spec.address = "10.0.0." + std::to_string(i);
      spec.port = 8000;
      ASSERT_TRUE(store_.upsert(spec));
    }
    auto plan = sched::load_scheduler_plan("", sched::builtin_registry(), SystemClock::instance());
    ASSERT_TRUE(plan) << plan.error().message;
    metrics_ = std::make_unique<epp::EppMetrics>(SystemClock::instance(), "pool", store_, 1);
    metrics_->bind_plan(*plan);
    scheduler_ =
        std::make_unique<sched::Scheduler>(std::move(*plan), store_, SystemClock::instance(), metrics_.get());
    ctx_ = std::make_unique<ProcessorContext>(
        ProcessorContext{*scheduler_, store_, data_, *metrics_, SystemClock::instance(), {}});
  }

  std::unique_ptr<Processor> make() { return std::make_unique<Processor>(*ctx_, ++seed_, 0); }

  static pb::ProcessingRequest headers(bool end_of_stream = false,
                                       pb::BodySendMode mode = pb::FULL_DUPLEX_STREAMED,
                                       std::string path = "/v1/completions") {
    return testing::request_headers(path, end_of_stream, mode);
  }
  static pb::ProcessingRequest body(std::string bytes, bool end_of_stream) {
    return testing::request_body(std::move(bytes), end_of_stream);
  }
  static std::string completion(const std::string& prompt, const std::string& model = "m") {
    return R"({"model":")" + model + R"(","prompt":")" + prompt + R"(","max_tokens":3})";
  }
  // Feeds `msgs` in order; every message must be accepted.
  static std::vector<pb::ProcessingResponse> feed(Processor& p,
                                                  const std::vector<pb::ProcessingRequest>& msgs) {
    std::vector<pb::ProcessingResponse> out;
    for (const auto& m : msgs) {
      auto r = p.handle(m, out);
      EXPECT_TRUE(r) << r.error().message;
    }
    return out;
  }
  static std::string header(const pb::HeaderMutation& m, std::string_view key) {
    return testing::header(m, key);
  }

  sched::EndpointStore store_;
  datalayer::DataLayer data_{store_, SystemClock::instance(), {}};
  std::unique_ptr<epp::EppMetrics> metrics_;
  std::unique_ptr<sched::Scheduler> scheduler_;
  std::unique_ptr<ProcessorContext> ctx_;
  uint64_t seed_ = 0;
};

TEST_F(ProcessorTest, FullDuplexAnswersHeadersThenTheBodyIn62000ByteChunks) {
  auto p = make();
  // A 130 kB body in uneven chunks; nothing is answered before its end.
  const std::string text = completion(std::string(130'000, 'a'));
  std::vector<pb::ProcessingResponse> out;
  ASSERT_TRUE(p->handle(headers(), out));
  for (size_t at = 0; at < text.size(); at += 7'000) {
    ASSERT_TRUE(p->handle(body(text.substr(at, 7'000), at + 7'000 >= text.size()), out));
    if (at + 7'000 < text.size()) {
      EXPECT_TRUE(out.empty());
    }
  }
  ASSERT_EQ(out.size(), 4u);  // headers, then 62000 + 62000 + the rest
  ASSERT_TRUE(out[0].has_request_headers());
  const pb::CommonResponse& c = out[0].request_headers().response();
  EXPECT_TRUE(c.clear_route_cache());
  const std::string dest = header(c.header_mutation(), "x-gateway-destination-endpoint");
  EXPECT_EQ(dest, p->destination());
  EXPECT_EQ(dest.rfind("10.0.0.", 0), 0u) << dest;
  EXPECT_EQ(header(c.header_mutation(), "content-length"), std::to_string(text.size()));
  EXPECT_NE(header(c.header_mutation(), "x-request-id"), "<absent>");  // generated: none was sent
  const auto& lb = out[0].dynamic_metadata().fields().at("envoy.lb").struct_value().fields();
  EXPECT_EQ(lb.at("x-gateway-destination-endpoint").string_value(), dest);
  std::string rebuilt;
  for (size_t i = 1; i < out.size(); ++i) {
    ASSERT_TRUE(out[i].has_request_body());
    const auto& sb = out[i].request_body().response().body_mutation().streamed_response();
    EXPECT_LE(sb.body().size(), kBodyChunkBytes);
    EXPECT_EQ(sb.end_of_stream(), i + 1 == out.size());
    rebuilt += sb.body();
  }
  EXPECT_EQ(out[1].request_body().response().body_mutation().streamed_response().body().size(),
            kBodyChunkBytes);
  EXPECT_EQ(rebuilt, text);
}

TEST_F(ProcessorTest, EmitEndpointScoresPutsEveryCandidateInTheMetadata) {
  auto p = make();
  auto out = feed(*p, {headers(), body(completion("s"), true)});
  EXPECT_FALSE(out[0]
                   .dynamic_metadata()
                   .fields()
                   .at("envoy.lb")
                   .struct_value()
                   .fields()
                   .contains("x-gateway-destination-endpoint-scores"));
  ctx_->options.emit_endpoint_scores = true;
  p = make();
  out = feed(*p, {headers(), body(completion("s"), true)});
  const auto& lb = out[0].dynamic_metadata().fields().at("envoy.lb").struct_value().fields();
  const auto& scores = lb.at("x-gateway-destination-endpoint-scores").struct_value().fields();
  ASSERT_EQ(scores.size(), 3u);
  double best = -1;
  for (const auto& [hp, v] : scores) best = std::max(best, v.number_value());
  EXPECT_EQ(scores.at(p->destination()).number_value(), best);  // the pick has the top score
}

TEST_F(ProcessorTest, BufferedAndStreamedCarryTheDecisionInTheBodyResponse) {
  const std::string text = completion("hello");
  for (pb::BodySendMode mode : {pb::BUFFERED, pb::STREAMED}) {
    auto p = make();
    // Envoy holds the body until the headers are answered, so they are answered at once; STREAMED
    // also answers every chunk.
    std::vector<pb::ProcessingResponse> out =
        mode == pb::BUFFERED
            ? feed(*p, {headers(false, mode), body(text, true)})
            : feed(*p, {headers(false, mode), body(text.substr(0, 10), false), body(text.substr(10), true)});
    ASSERT_EQ(out.size(), mode == pb::BUFFERED ? 2u : 3u) << mode;
    EXPECT_TRUE(out[0].has_request_headers());
    EXPECT_FALSE(out[0].request_headers().response().has_header_mutation());
    const pb::ProcessingResponse& last = out.back();
    ASSERT_TRUE(last.has_request_body()) << mode;
    const pb::CommonResponse& c = last.request_body().response();
    EXPECT_TRUE(c.clear_route_cache());
    EXPECT_EQ(header(c.header_mutation(), "x-gateway-destination-endpoint"), p->destination());
    EXPECT_EQ(header(c.header_mutation(), "content-length"), "<absent>");  // the body is not replaced
    EXPECT_FALSE(c.has_body_mutation());
  }
}

TEST_F(ProcessorTest, ARequestWithoutBodyIsDecidedOnItsHeaders) {
  auto p = make();
  auto out = feed(*p, {headers(true, pb::FULL_DUPLEX_STREAMED, "/v1/models")});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].has_request_headers());
  EXPECT_NE(header(out[0].request_headers().response().header_mutation(), "x-gateway-destination-endpoint"),
            "<absent>");
}

pb::ProcessingRequest with_subset(pb::ProcessingRequest r, google::protobuf::Value hint) {
  google::protobuf::Struct s;
  (*s.mutable_fields())["x-gateway-destination-endpoint-subset"] = std::move(hint);
  (*r.mutable_metadata_context()->mutable_filter_metadata())["envoy.lb.subset_hint"] = std::move(s);
  return r;
}

google::protobuf::Value list_of(std::vector<std::string> items) {
  google::protobuf::Value v;
  auto* l = v.mutable_list_value();
  for (auto& i : items) l->add_values()->set_string_value(i);
  return v;
}

TEST_F(ProcessorTest, SubsetHintsAreHonoured) {
  for (int i = 0; i < 20; ++i) {
    auto p = make();
    auto out = feed(*p, {with_subset(headers(), list_of({"10.0.0.2:8000"})),
                         body(completion("x" + std::to_string(i)), true)});
    EXPECT_EQ(p->destination(), "10.0.0.2:8000");
  }
  // A comma-separated string; ports are not compared (llm-d matches the IP).
  google::protobuf::Value s;
  s.set_string_value("10.0.0.3:1, 10.0.0.9:8000");
  auto p = make();
  feed(*p, {with_subset(headers(), s), body(completion("y"), true)});
  EXPECT_EQ(p->destination(), "10.0.0.3:8000");
  // An empty subset, or one matching nothing: 503 rejected-no-endpoints.
  for (auto hint : {list_of({}), list_of({"10.9.9.9:8000"})}) {
    auto q = make();
    auto out = feed(*q, {with_subset(headers(), hint), body(completion("z"), true)});
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(out[0].has_immediate_response());
    EXPECT_EQ(out[0].immediate_response().status().code(), 503);
    EXPECT_EQ(header(out[0].immediate_response().headers(), "x-llm-d-request-dropped-reason"),
              "rejected-no-endpoints");
    EXPECT_TRUE(q->finished());
  }
}

TEST_F(ProcessorTest, ASharedPrefixSticksAndDistinctPromptsSpread) {
  const std::string prefix(4'000, 'p');
  std::string first;
  for (int i = 0; i < 10; ++i) {
    auto p = make();
    feed(*p, {headers(), body(completion(prefix + std::to_string(i)), true)});
    if (first.empty()) first = p->destination();
    EXPECT_EQ(p->destination(), first) << i;
  }
  std::set<std::string> seen;
  for (int i = 0; i < 30; ++i) {
    auto p = make();
    feed(*p, {headers(), body(completion(std::to_string(i) + std::string(3'000, 'q')), true)});
    seen.insert(p->destination());
  }
  EXPECT_GT(seen.size(), 1u);
}

TEST_F(ProcessorTest, BadBodiesGetLlmdsImmediateResponses) {
  auto p = make();
  auto out = feed(*p, {headers(), body("{not json", true)});
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].has_immediate_response());
  const auto& ir = out[0].immediate_response();
  EXPECT_EQ(ir.status().code(), 400);
  EXPECT_EQ(ir.body().rfind("inference error: BadRequest - ", 0), 0u) << ir.body();
  EXPECT_NE(header(ir.headers(), "x-request-id"), "<absent>");
  // After an immediate response the stream is over.
  std::vector<pb::ProcessingResponse> more;
  EXPECT_FALSE(p->handle(body("x", true), more));

  ctx_->options.max_body_bytes = 100;
  auto big = make();
  out = feed(*big, {headers(), body(std::string(60, 'a'), false), body(std::string(60, 'a'), true)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].immediate_response().status().code(), 413);
}

TEST_F(ProcessorTest, MessagesOutOfOrderBreakTheStream) {
  std::vector<pb::ProcessingResponse> out;
  pb::ProcessingRequest resp;
  resp.mutable_response_headers();
  EXPECT_FALSE(make()->handle(resp, out));
  EXPECT_FALSE(make()->handle(pb::ProcessingRequest{}, out));  // no request set
  auto p = make();
  ASSERT_TRUE(p->handle(headers(), out));
  EXPECT_FALSE(p->handle(headers(), out));
  EXPECT_TRUE(out.empty());
}

TEST_F(ProcessorTest, TheResponsePassesThroughInEveryMode) {
  for (pb::BodySendMode mode : {pb::FULL_DUPLEX_STREAMED, pb::BUFFERED, pb::STREAMED}) {
    auto p = make();
    std::vector<pb::ProcessingResponse> out = feed(*p, {headers(false, mode), body(completion("r"), true)});
    out.clear();
    pb::ProcessingRequest rh;
    auto* hv = rh.mutable_response_headers()->mutable_headers()->add_headers();
    hv->set_key("content-type");
    hv->set_raw_value("text/event-stream");
    ASSERT_TRUE(p->handle(rh, out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(header(out[0].response_headers().response().header_mutation(), "x-went-into-resp-headers"),
              "true");
    out.clear();
    const std::vector<std::string> chunks = {
        "data: {\"choices\":[]}\n\n", "data: {\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}\n\n",
        "data: [DONE]\n\n"};
    for (size_t i = 0; i < chunks.size(); ++i) {
      pb::ProcessingRequest rb;
      rb.mutable_response_body()->set_body(chunks[i]);
      rb.mutable_response_body()->set_end_of_stream(i + 1 == chunks.size());
      ASSERT_TRUE(p->handle(rb, out));
    }
    if (mode == pb::BUFFERED) {
      EXPECT_EQ(out.size(), 1u);
    } else {
      ASSERT_EQ(out.size(), chunks.size()) << mode;
    }
    if (mode == pb::FULL_DUPLEX_STREAMED) {
      for (size_t i = 0; i < chunks.size(); ++i) {
        const auto& sb = out[i].response_body().response().body_mutation().streamed_response();
        EXPECT_EQ(sb.body(), chunks[i]);
        EXPECT_EQ(sb.end_of_stream(), i + 1 == chunks.size());
      }
    }
    out.clear();
    pb::ProcessingRequest rt;
    rt.mutable_response_trailers();
    ASSERT_TRUE(p->handle(rt, out));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].has_response_trailers());
  }
}

TEST_F(ProcessorTest, RequestTrailersEndTheBodyInFullDuplex) {
  auto p = make();
  auto out = feed(*p, {headers(), body(completion("t"), false)});
  EXPECT_TRUE(out.empty());
  pb::ProcessingRequest t;
  t.mutable_request_trailers();
  ASSERT_TRUE(p->handle(t, out));
  ASSERT_GE(out.size(), 3u);  // headers, the body, then the trailers' answer
  EXPECT_TRUE(out.front().has_request_headers());
  EXPECT_TRUE(out.back().has_request_trailers());
}

}  // namespace
}  // namespace llmd::extproc
