#include "epp/request_fields.h"

#include <gtest/gtest.h>

namespace llmd::epp {
namespace {

struct Parsed {
  Result<void> result;
  sched::LLMRequest request;
  RequestFields fields;
};

Parsed parse(std::string_view body, vllm::ApiKind kind) {
  json::Parser parser;
  Parsed p;
  p.request.kind = kind;
  p.result = parse_request_fields(body, parser, p.request, p.fields);
  return p;
}

TEST(RequestFields, CompletionsString) {
  auto p = parse(R"({"model":"m","prompt":"hello world!","stream":true,"max_tokens":7,"cache_salt":"s1"})",
                 vllm::ApiKind::kCompletions);
  ASSERT_TRUE(p.result) << p.result.error().message;
  EXPECT_EQ(p.request.model, "m");
  EXPECT_EQ(p.request.prompt, "hello world!");
  EXPECT_TRUE(p.fields.stream);
  EXPECT_EQ(p.request.max_tokens, 7);
  EXPECT_EQ(p.request.cache_salt, "s1");
  EXPECT_EQ(p.request.estimated_tokens, 3);  // 12 bytes / 4
}

TEST(RequestFields, CompletionsArraysAndTokenIds) {
  auto strings = parse(R"({"model":"m","prompt":["a","b"]})", vllm::ApiKind::kCompletions);
  ASSERT_TRUE(strings.result);
  EXPECT_EQ(strings.request.prompt, "a\nb");
  EXPECT_FALSE(strings.fields.stream);
  EXPECT_EQ(strings.request.max_tokens, -1);

  auto ids = parse(R"({"model":"m","prompt":[1,22,333]})", vllm::ApiKind::kCompletions);
  ASSERT_TRUE(ids.result);
  EXPECT_EQ(ids.request.prompt, "1 22 333");

  auto batches = parse(R"({"model":"m","prompt":[[1,2],[3]]})", vllm::ApiKind::kCompletions);
  ASSERT_TRUE(batches.result);
  EXPECT_EQ(batches.request.prompt, "1 2\n3");
}

TEST(RequestFields, ChatMessagesPartsAndTools) {
  auto p = parse(R"({"model":"m","messages":[
      {"role":"system","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"http://x/i.png"}}]},
      {"role":"assistant","content":null,"tool_calls":[]}],
    "tools":[{"type":"function","function":{"name":"f"}}],
    "max_completion_tokens":9})",
                 vllm::ApiKind::kChatCompletions);
  ASSERT_TRUE(p.result) << p.result.error().message;
  ASSERT_EQ(p.request.messages.size(), 3u);
  EXPECT_EQ(p.request.messages[0].role, "system");
  ASSERT_EQ(p.request.messages[0].content.size(), 1u);
  EXPECT_EQ(p.request.messages[0].content[0].data, "be brief");
  ASSERT_EQ(p.request.messages[1].content.size(), 2u);
  EXPECT_EQ(p.request.messages[1].content[1].kind, sched::ContentPart::Kind::kMedia);
  EXPECT_EQ(p.request.messages[1].content[1].data, "http://x/i.png");
  EXPECT_TRUE(p.request.messages[2].content.empty());
  EXPECT_EQ(p.request.tools_json, R"([{"type":"function","function":{"name":"f"}}])");
  EXPECT_EQ(p.request.max_tokens, 9);
}

TEST(RequestFields, ErrorsCarryTheParam) {
  struct Case {
    const char* body;
    vllm::ApiKind kind;
    const char* param;
    const char* message;
  };
  const Case cases[] = {
      {"{not json", vllm::ApiKind::kCompletions, "", "invalid JSON"},
      {R"({"prompt":"x"})", vllm::ApiKind::kCompletions, "model", "field required"},
      {R"({"model":"","prompt":"x"})", vllm::ApiKind::kCompletions, "model", "must not be empty"},
      {R"({"model":"m"})", vllm::ApiKind::kCompletions, "prompt", "field required"},
      {R"({"model":"m","prompt":{}})", vllm::ApiKind::kCompletions, "prompt", "expected string or array"},
      {R"({"model":"m","prompt":[1,"a"]})", vllm::ApiKind::kCompletions, "prompt[1]", "expected"},
      {R"({"model":"m","messages":[{"content":"x"}]})", vllm::ApiKind::kChatCompletions, "messages[0].role",
       "field required"},
      {R"({"model":"m","messages":[]})", vllm::ApiKind::kChatCompletions, "messages", "must not be empty"},
      {R"({"model":"m","messages":[{"role":"user","content":5}]})", vllm::ApiKind::kChatCompletions,
       "messages[0].content", "expected string or array"},
      {R"({"model":"m","prompt":"x","stream":"yes"})", vllm::ApiKind::kCompletions, "stream", "expected"},
      {R"(["model"])", vllm::ApiKind::kCompletions, "", "expected object"},
  };
  for (const auto& c : cases) {
    auto p = parse(c.body, c.kind);
    ASSERT_FALSE(p.result) << c.body;
    EXPECT_EQ(p.result.error().code, ErrorCode::kInvalidArgument) << c.body;
    EXPECT_EQ(p.fields.error_param, c.param) << c.body << " -> " << p.result.error().message;
    EXPECT_NE(p.result.error().message.find(c.message), std::string::npos) << p.result.error().message;
  }
}

}  // namespace
}  // namespace llmd::epp
