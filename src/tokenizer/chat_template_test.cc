#include "tokenizer/chat_template.h"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace llmd::tokenizer {
namespace {

boost::json::array msgs(std::string_view json) { return boost::json::parse(json).as_array(); }

TEST(ChatTemplateTest, RendersWithSpecialTokensAndGenerationPrompt) {
  auto ct = ChatTemplate::from_config_json(R"({
    "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
    "eos_token": "</s>", "pad_token": null,
    "chat_template": "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}{{ pad_token is defined }}"})");
  ASSERT_TRUE(ct) << ct.error().message;
  EXPECT_EQ(ct->special_token("bos_token"), "<s>");
  EXPECT_EQ(ct->special_token("pad_token"), "");
  ChatRenderOptions opt;
  opt.add_generation_prompt = true;
  auto out = ct->render(msgs(R"([{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}])"), opt);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, "<s>[user]hi</s>\n[assistant]yo</s>\n[assistant]False");
}

TEST(ChatTemplateTest, NamedTemplatesToolsAndKwargs) {
  auto ct = ChatTemplate::from_config_json(R"({"chat_template": [
    {"name": "default", "template": "{{ tools is none }}|{{ enable_thinking }}|{{ documents is none }}"},
    {"name": "tool_use", "template": "{% for t in tools %}{{ t.name }};{% endfor %}{{ tools | tojson }}"}]})",
                                           "tool_use");
  ASSERT_TRUE(ct) << ct.error().message;
  ChatRenderOptions opt;
  opt.tools = boost::json::parse(R"([{"name":"a","x":[1,2]},{"name":"b"}])").as_array();
  auto out = ct->render(msgs("[]"), opt);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, R"(a;b;[{"name": "a", "x": [1, 2]}, {"name": "b"}])");

  auto dflt = ChatTemplate::from_config_json(
      R"({"chat_template": [{"name": "default", "template": "{{ tools is none }}|{{ enable_thinking }}|{{ documents is none }}"}]})");
  ASSERT_TRUE(dflt);
  ChatRenderOptions kw;
  kw.kwargs = boost::json::parse(R"({"enable_thinking": false})").as_object();
  EXPECT_EQ(dflt->render(msgs("[]"), kw).value(), "True|False|True");
  EXPECT_FALSE(ChatTemplate::from_config_json(R"({"chat_template": [{"name": "x", "template": ""}]})"));
}

TEST(ChatTemplateTest, RaiseExceptionEndsRenderingWithItsMessage) {
  auto ct = ChatTemplate::from_source(
      "{% if messages | length == 0 %}{{ raise_exception('need messages') }}{% endif %}ok",
      boost::json::object{});
  ASSERT_TRUE(ct);
  auto out = ct->render(msgs("[]"), {});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, "need messages");
  EXPECT_EQ(ct->render(msgs(R"([{"role":"user"}])"), {}).value(), "ok");
}

TEST(ChatTemplateTest, StrftimeNowUsesTheInjectedClock) {
  auto ct = ChatTemplate::from_source("{{ strftime_now('%Y') }}", boost::json::object{});
  ASSERT_TRUE(ct);
  ManualClock clock(Nanos{0},
                    std::chrono::duration_cast<Nanos>(std::chrono::seconds(4102444800 + 86400 * 200)));
  ChatRenderOptions opt;
  opt.clock = &clock;
  EXPECT_EQ(ct->render(msgs("[]"), opt).value(), "2100");
}

TEST(ChatTemplateTest, MissingOrBrokenTemplateFails) {
  EXPECT_FALSE(ChatTemplate::from_config_json(R"({"eos_token": "</s>"})"));
  EXPECT_FALSE(ChatTemplate::from_config_json(R"({"chat_template": "{% for x in %}"})"));
  EXPECT_FALSE(ChatTemplate::from_config_file("/nonexistent/tokenizer_config.json"));
}

}  // namespace
}  // namespace llmd::tokenizer
