#include "loadgen/openai.h"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

namespace json = boost::json;

Prompt sample_prompt() {
  Prompt p;
  p.messages = {{"system", "You are terse."}, {"user", " what is two plus two"}};
  p.max_tokens = 16;
  return p;
}

TEST(OpenAi, RendersCompletionsBody) {
  RequestOptions o;
  o.model = "m1";
  auto body = json::parse(render_body(sample_prompt(), o)).as_object();
  EXPECT_EQ(body.at("model").as_string(), "m1");
  EXPECT_EQ(body.at("prompt").as_string(), "You are terse. what is two plus two");
  EXPECT_EQ(body.at("max_tokens").to_number<int>(), 16);
  EXPECT_TRUE(body.at("stream").as_bool());
  EXPECT_TRUE(body.at("stream_options").as_object().at("include_usage").as_bool());
  EXPECT_TRUE(body.at("ignore_eos").as_bool());
  EXPECT_EQ(api_path(o.api), "/v1/completions");
}

TEST(OpenAi, RendersChatBodyWithoutStreaming) {
  RequestOptions o;
  o.api = ApiKind::kChatCompletions;
  o.model = "m2";
  o.stream = false;
  o.ignore_eos = false;
  auto body = json::parse(render_body(sample_prompt(), o)).as_object();
  const auto& msgs = body.at("messages").as_array();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].as_object().at("role").as_string(), "system");
  EXPECT_EQ(msgs[1].as_object().at("content").as_string(), " what is two plus two");
  EXPECT_FALSE(body.at("stream").as_bool());
  EXPECT_FALSE(body.contains("stream_options"));
  EXPECT_FALSE(body.contains("ignore_eos"));
  EXPECT_EQ(api_path(o.api), "/v1/chat/completions");
}

TEST(OpenAi, ParsesStreamedChunks) {
  ChunkParser p;
  auto text = p.parse(
      R"({"id":"x","object":"text_completion","choices":[{"index":0,"text":" hi","finish_reason":null}]})");
  ASSERT_TRUE(text);
  EXPECT_TRUE(text->has_content);
  EXPECT_FALSE(text->finished);
  EXPECT_FALSE(text->has_usage);

  auto delta = p.parse(R"({"choices":[{"index":0,"delta":{"content":"yo"},"finish_reason":"length"}]})");
  ASSERT_TRUE(delta);
  EXPECT_TRUE(delta->has_content);
  EXPECT_TRUE(delta->finished);

  auto role_only = p.parse(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})");
  ASSERT_TRUE(role_only);
  EXPECT_FALSE(role_only->has_content);

  auto usage =
      p.parse(R"({"choices":[],"usage":{"prompt_tokens":120,"completion_tokens":33,"total_tokens":153,)"
              R"("prompt_tokens_details":{"cached_tokens":96}}})");
  ASSERT_TRUE(usage);
  EXPECT_TRUE(usage->has_usage);
  EXPECT_EQ(usage->prompt_tokens, 120u);
  EXPECT_EQ(usage->completion_tokens, 33u);
  EXPECT_EQ(usage->cached_tokens, 96u);

  auto done = p.parse(" [DONE]\n");
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->done);
}

TEST(OpenAi, ParsesWholeResponsesAndErrors) {
  ChunkParser p;
  auto whole =
      p.parse(R"({"choices":[{"message":{"role":"assistant","content":"four"},"finish_reason":"stop"}],)"
              R"("usage":{"prompt_tokens":9,"completion_tokens":1}})");
  ASSERT_TRUE(whole);
  EXPECT_TRUE(whole->has_content);
  EXPECT_EQ(whole->completion_tokens, 1u);
  EXPECT_EQ(whole->cached_tokens, 0u);

  auto err = p.parse(R"({"error":{"message":"overloaded","type":"ServiceUnavailableError","code":503}})");
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->is_error);
  EXPECT_EQ(err->error_message, "overloaded");

  EXPECT_FALSE(p.parse("{not json"));
  EXPECT_FALSE(p.parse("[1,2]"));
  EXPECT_EQ(p.parse("{\"choices\":\"x\"}").value().has_content, false);
  // The parser recovers after an error.
  EXPECT_TRUE(p.parse(R"({"choices":[{"text":"a"}]})").value().has_content);
}

TEST(OpenAi, ParsesChunksLargerThanTheScratchBuffer) {
  ChunkParser p;
  std::string big = R"({"choices":[{"text":")" + std::string(100'000, 'a') + R"("}]})";
  auto r = p.parse(big);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_content);
}

}  // namespace
}  // namespace llmd::loadgen
