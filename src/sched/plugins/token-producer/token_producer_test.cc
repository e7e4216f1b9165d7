#include "sched/plugins/token-producer/token_producer.h"

#include <xxhash.h>

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

std::vector<uint32_t> estimate(const LLMRequest& r) {
  TokenizedPrompt tp;
  estimate_tokens(r, tp);
  std::vector<uint32_t> out;
  for (size_t i = 0; i < tp.size(); ++i) out.push_back(tp.token(i));
  return out;
}

TEST(TokenProducerTest, CompletionsArePaddedLittleEndianWords) {
  struct Case {
    std::string prompt;
    std::vector<uint32_t> want;
  };
  const Case cases[] = {
      {"", {}},
      {"abcd", {0x64636261}},
      {"abcde", {0x64636261, 0x65}},
      {std::string("\xff\x00\x01", 3), {0x0100ff}},
  };
  for (const auto& c : cases) {
    LLMRequest r;
    r.prompt = c.prompt;
    EXPECT_EQ(estimate(r), c.want) << c.prompt;
  }
}

TEST(TokenProducerTest, ChatConcatenatesToolsRolesAndText) {
  LLMRequest r;
  r.kind = ApiKind::kChatCompletions;
  r.tools_json = "[]";
  r.messages = {{"user", {{ContentPart::Kind::kText, "hi"}}}, {"ai", {{ContentPart::Kind::kText, "yo"}}}};
  LLMRequest same;
  same.prompt = "[]userhiaiyo";
  EXPECT_EQ(estimate(r), estimate(same));
}

TEST(TokenProducerTest, MediaPartsBecomeAlignedPlaceholders) {
  LLMRequest r;
  r.kind = ApiKind::kChatCompletions;
  const std::string url = "https://example.com/cat.png";
  r.messages = {{"user",
                 {{ContentPart::Kind::kText, "look"},
                  {ContentPart::Kind::kText, "!"},
                  {ContentPart::Kind::kMedia, url}}}};
  // "userlook!" is 9 bytes: padded to 12, then the placeholder word.
  const auto got = estimate(r);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[2], static_cast<uint32_t>('!'));
  EXPECT_EQ(got[3], static_cast<uint32_t>(XXH64(url.data(), url.size(), 0)));
}

TEST(TokenProducerTest, ProducesTokenizedPrompt) {
  LLMRequest r;
  r.prompt = std::string(400, 'x');
  testing::Cycle cycle(testing::endpoints(1), r);
  TokenProducer p({"token-producer", "token-producer"}, {});
  EXPECT_EQ(p.produces(), std::vector<std::string>{std::string(kTokenizedPromptKey)});
  p.produce(cycle.ctx());
  auto tp = cycle.state().get<TokenizedPrompt>(kTokenizedPromptKey);
  ASSERT_NE(tp, nullptr);
  EXPECT_EQ(tp->size(), 100u);
  // Completions are viewed in place, not copied.
  EXPECT_EQ(tp->bytes.data(), cycle.ctx().request.prompt.data());
}

TEST(TokenProducerTest, BackendValidation) {
  auto ok = config::parse("{backend: estimate}");
  auto vllm = config::parse("{backend: vllm}");
  ASSERT_TRUE(ok && vllm);
  EXPECT_TRUE(create_token_producer(PluginArgs{{"token-producer", "t"}, *ok}));
  auto r = create_token_producer(PluginArgs{{"token-producer", "t"}, *vllm});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("backend: the vllm render backend is not supported"), std::string::npos);
}

}  // namespace
}  // namespace llmd::sched::plugins
