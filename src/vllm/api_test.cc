#include "vllm/api.h"

#include <gtest/gtest.h>

namespace llmd::vllm {
namespace {

TEST(ApiKind, NamesAndPathsRoundTrip) {
  for (ApiKind k : {ApiKind::kCompletions, ApiKind::kChatCompletions}) {
    auto parsed = parse_api_kind(to_string(k));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_EQ(api_path(ApiKind::kCompletions), "/v1/completions");
  EXPECT_EQ(api_path(ApiKind::kChatCompletions), "/v1/chat/completions");
  EXPECT_TRUE(api_path(ApiKind::kOther).empty());
}

TEST(ApiKind, UnknownNameIsAConfigError) {
  auto r = parse_api_kind("embeddings");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kConfig);
  EXPECT_NE(r.error().message.find("embeddings"), std::string::npos);
  EXPECT_EQ(*parse_api_kind("completion"), ApiKind::kCompletions);
}

}  // namespace
}  // namespace llmd::vllm
