#include "sched/request.h"

#include <gtest/gtest.h>

namespace llmd::sched {
namespace {

TEST(HeaderList, FindIgnoresCaseAndSetReplaces) {
  HeaderList h{{"X-Session-Token", "a"}, {"content-type", "application/json"}};
  EXPECT_EQ(find_header(h, "x-session-token"), "a");
  EXPECT_EQ(find_header(h, "X-MISSING"), "");
  set_header(h, "x-SESSION-token", "b");
  ASSERT_EQ(h.size(), 2u);
  EXPECT_EQ(h.back().first, "x-session-token");
  EXPECT_EQ(find_header(h, "X-Session-Token"), "b");
}

TEST(LLMRequest, ClearRestoresTheDefaultsAndKeepsCapacity) {
  LLMRequest r;
  r.request_id = "id";
  r.model = "m";
  r.target_model = "t";
  r.kind = ApiKind::kChatCompletions;
  r.prompt = std::string(200, 'p');
  r.messages.push_back(ChatMessage{"user", {}});
  r.tools_json = "[]";
  r.body_json = "{}";
  r.headers.emplace_back("a", "b");
  r.priority = 3;
  r.estimated_tokens = 50;
  r.max_tokens = 7;
  r.cache_salt = "salt";
  const size_t prompt_capacity = r.prompt.capacity();
  r.clear();
  const LLMRequest fresh;
  EXPECT_EQ(r.request_id, fresh.request_id);
  EXPECT_EQ(r.model, fresh.model);
  EXPECT_EQ(r.target_model, fresh.target_model);
  EXPECT_EQ(r.kind, fresh.kind);
  EXPECT_EQ(r.prompt, fresh.prompt);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.tools_json, fresh.tools_json);
  EXPECT_EQ(r.body_json, fresh.body_json);
  EXPECT_TRUE(r.headers.empty());
  EXPECT_EQ(r.priority, fresh.priority);
  EXPECT_EQ(r.estimated_tokens, fresh.estimated_tokens);
  EXPECT_EQ(r.max_tokens, fresh.max_tokens);
  EXPECT_EQ(r.cache_salt, fresh.cache_salt);
  EXPECT_EQ(r.prompt.capacity(), prompt_capacity);
}

}  // namespace
}  // namespace llmd::sched
