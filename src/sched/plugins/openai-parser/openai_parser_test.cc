#include "sched/plugins/openai-parser/openai_parser.h"

#include <gtest/gtest.h>

namespace llmd::sched::plugins {
namespace {

TEST(OpenAiParserTest, IsAParserWithoutParameters) {
  auto p = create_openai_parser(PluginArgs{{"openai-parser", "openai"}, config::Node()});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_NE(dynamic_cast<const RequestParser*>(p->get()), nullptr);
  EXPECT_EQ((*p)->typed_name().name, "openai");

  auto node = config::parse("{paths: [/v1/messages]}", "t.yaml");
  ASSERT_TRUE(node);
  auto bad = create_openai_parser(PluginArgs{{"openai-parser", "openai"}, *node});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("paths: unknown field"), std::string::npos) << bad.error().message;
}

}  // namespace
}  // namespace llmd::sched::plugins
