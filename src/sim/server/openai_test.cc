#include "sim/server/openai.h"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace llmd::sim {
namespace {

namespace bj = boost::json;

TEST(OpenAiTest, ParsesCompletionWithVllmExtras) {
  auto r = parse_completion_request(
      R"({"model":"m","prompt":"hello","max_tokens":5,"stream":true,"stream_options":{"include_usage":true},
          "ignore_eos":true,"cache_salt":"s1","temperature":0.5,
          "kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,
                                "remote_block_ids":null,"remote_host":null,"remote_port":null}})",
      ApiKind::kCompletions);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->model, "m");
  EXPECT_EQ(r->prompt_text, "hello");
  EXPECT_EQ(r->max_tokens, 5u);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_TRUE(r->ignore_eos);
  EXPECT_EQ(r->cache_salt, "s1");
  ASSERT_TRUE(r->kv_transfer_params.has_value());
  EXPECT_TRUE(r->kv_transfer_params->do_remote_decode);
  EXPECT_FALSE(r->kv_transfer_params->remote_engine_id.has_value());
}

TEST(OpenAiTest, ParsesPromptShapes) {
  auto tokens = parse_completion_request(R"({"model":"m","prompt":[1,2,3]})", ApiKind::kCompletions);
  ASSERT_TRUE(tokens.has_value());
  EXPECT_EQ(*tokens->prompt_tokens, (std::vector<uint32_t>{1, 2, 3}));
  auto nested = parse_completion_request(R"({"model":"m","prompt":[[4,5]]})", ApiKind::kCompletions);
  ASSERT_TRUE(nested.has_value());
  EXPECT_EQ(*nested->prompt_tokens, (std::vector<uint32_t>{4, 5}));
  auto list = parse_completion_request(R"({"model":"m","prompt":["one"]})", ApiKind::kCompletions);
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->prompt_text, "one");
}

TEST(OpenAiTest, ParsesChatIntoTheTemplate) {
  auto r = parse_completion_request(
      R"({"model":"m","messages":[{"role":"system","content":"S"},
          {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
          "max_completion_tokens":7,"max_tokens":3})",
      ApiKind::kChatCompletions);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->prompt_text,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(r->max_tokens, 7u);
}

TEST(OpenAiTest, ErrorsNameTheField) {
  struct Case {
    const char* body;
    ApiKind api;
    const char* expect;
  };
  const Case cases[] = {
      {R"({"prompt":"x"})", ApiKind::kCompletions, "model"},
      {R"({"model":"m","prompt":5})", ApiKind::kCompletions, "prompt"},
      {R"({"model":"m","prompt":"x","max_tokens":"many"})", ApiKind::kCompletions, "max_tokens"},
      {R"({"model":"m","prompt":"x","max_tokens":0})", ApiKind::kCompletions, "max_tokens"},
      {R"({"model":"m","prompt":"x","n":2})", ApiKind::kCompletions, "n"},
      {R"({"model":"m","prompt":[1,-2]})", ApiKind::kCompletions, "prompt[1]"},
      {R"({"model":"m","prompt":["a","b"]})", ApiKind::kCompletions, "prompt"},
      {R"({"model":"m","messages":[{"role":"user","content":3}]})", ApiKind::kChatCompletions,
       "messages[0].content"},
      {R"({"model":"m","messages":[{"content":"x"}]})", ApiKind::kChatCompletions, "messages[0].role"},
      {R"({"model":"m","prompt":"x","stream":"yes"})", ApiKind::kCompletions, "stream"},
      {R"({"model":"m","prompt":"x","temperature":"hot"})", ApiKind::kCompletions, "temperature"},
      {R"({"model":"m",)", ApiKind::kCompletions, "invalid JSON"},
  };
  for (const auto& c : cases) {
    auto r = parse_completion_request(c.body, c.api);
    ASSERT_FALSE(r.has_value()) << c.body;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.body;
    EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << c.body << " → " << r.error().message;
  }
}

TEST(OpenAiTest, RendersVllmShapedResponses) {
  vllm::KvTransferParams kv;
  kv.do_remote_prefill = true;
  kv.remote_block_ids = {1, 2};
  kv.remote_engine_id = "e";
  kv.remote_request_id = "r";
  kv.remote_host = "h";
  kv.remote_port = 9;
  kv.tp_size = 1;
  const auto v = bj::parse(
      render_response(ApiKind::kChatCompletions, "chatcmpl-1", 7, "m\"x", "hi\n", "length", {3, 2, 1}, kv));
  EXPECT_EQ(v.at("object"), "chat.completion");
  EXPECT_EQ(v.at("model"), "m\"x");
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "hi\n");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(v.at("usage").at("total_tokens"), 5);
  EXPECT_EQ(v.at("usage").at("prompt_tokens_details").at("cached_tokens"), 1);
  EXPECT_EQ(v.at("kv_transfer_params").at("remote_block_ids").at(1), 2);
  EXPECT_EQ(v.at("kv_transfer_params").at("do_remote_prefill"), true);
  const auto c = bj::parse(
      render_response(ApiKind::kCompletions, "cmpl-1", 7, "m", "t", "stop", {1, 1, 0}, std::nullopt));
  EXPECT_EQ(c.at("object"), "text_completion");
  EXPECT_EQ(c.at("choices").at(0).at("text"), "t");
  EXPECT_TRUE(c.at("kv_transfer_params").is_null());
}

TEST(OpenAiTest, RendersChunks) {
  const auto role = bj::parse(render_role_chunk("id", 1, "m"));
  EXPECT_EQ(role.at("choices").at(0).at("delta").at("role"), "assistant");
  EXPECT_EQ(role.at("choices").at(0).at("delta").at("content"), "");
  const auto d = bj::parse(render_delta_chunk(ApiKind::kChatCompletions, "id", 1, "m", "x", "", nullptr));
  EXPECT_EQ(d.at("object"), "chat.completion.chunk");
  EXPECT_TRUE(d.at("choices").at(0).at("finish_reason").is_null());
  EXPECT_FALSE(d.as_object().contains("usage"));
  Usage u{4, 2, 0};
  const auto last = bj::parse(render_delta_chunk(ApiKind::kCompletions, "id", 1, "m", "y", "length", &u));
  EXPECT_EQ(last.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(last.at("usage").at("completion_tokens"), 2);
  const auto usage = bj::parse(render_usage_chunk(ApiKind::kChatCompletions, "id", 1, "m", u));
  EXPECT_TRUE(usage.at("choices").as_array().empty());
  EXPECT_EQ(usage.at("usage").at("prompt_tokens"), 4);
}

TEST(OpenAiTest, JsonStringEscaping) {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\x01", 7));
  EXPECT_EQ(out, R"("a\"b\\c\n\u0001")");
}

}  // namespace
}  // namespace llmd::sim
