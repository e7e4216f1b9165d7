// Oracle tests for chat templates: our Jinja renderer against Debian's python3-jinja2 (run by
// tests/tokenizer/oracle_jinja.py in transformers' environment), on the real chat templates of
// the models and on templates that exercise the rest of the supported Jinja subset. Rendered
// prompts are then tokenized by both implementations, as vLLM does for a chat request.

#include <algorithm>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "tokenizer/chat_template.h"
#include "tokenizer/oracle.h"
#include "tokenizer/tokenizer.h"

namespace llmd::testing::tok {
namespace {

using llmd::tokenizer::ChatRenderOptions;
using llmd::tokenizer::ChatTemplate;
using llmd::tokenizer::EncodeOptions;
using llmd::tokenizer::Tokenizer;

constexpr int64_t kNow = 1718000000;  // strftime_now's fixed time in both renderers

struct Conversation {
  std::string name;
  std::string messages;  // JSON array
  bool add_generation_prompt;
  std::string tools;   // JSON array or ""
  std::string kwargs;  // JSON object or ""
};

std::vector<Conversation> conversations() {
  const std::string tools =
      R"([{"type":"function","function":{"name":"get_weather","description":"Weather for a city",
    "parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"},
    "unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}},
    {"type":"function","function":{"name":"search","description":"Web search <b>&</b> 'quotes'","parameters":{"type":"object",
    "properties":{"q":{"type":"string"},"limit":{"type":"integer","default":3,"minimum":1.5}}}}}])";
  std::vector<Conversation> out = {
      {"SingleUser", R"([{"role":"user","content":"Hello!"}])", true, "", ""},
      {"SingleUserNoPrompt", R"([{"role":"user","content":"Hello!"}])", false, "", ""},
      {"SystemUser", R"([{"role":"system","content":"You are terse."},{"role":"user","content":"2+2?"}])",
       true, "", ""},
      {"MultiTurn",
       R"([{"role":"system","content":"Be kind."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello! How can I help?"},
           {"role":"user","content":"Tell me a joke."},{"role":"assistant","content":"Why did the chicken cross the road?"},
           {"role":"user","content":"Why?"}])",
       true, "", ""},
      {"WhitespaceAndUnicode",
       R"([{"role":"user","content":"  padded\n\n  text with 日本語, émoji 🙂 and\ttabs  \n"},
           {"role":"assistant","content":"\n reply \n"},{"role":"user","content":"<|im_start|> <s> literal tokens </s>"}])",
       true, "", ""},
      {"ContentParts",
       R"([{"role":"user","content":[{"type":"text","text":"  Describe this  "},{"type":"image"},{"type":"text","text":"please"}]}])",
       true, "", ""},
      {"SystemParts",
       R"([{"role":"system","content":[{"type":"text","text":"System as parts."}]},{"role":"user","content":[{"type":"text","text":"Hi"}]}])",
       true, "", ""},
      {"Tools", R"([{"role":"system","content":"Use tools."},{"role":"user","content":"Weather in Paris?"}])",
       true, tools, ""},
      {"ToolCallsDictArguments",
       R"([{"role":"user","content":"Weather in Paris?"},
           {"role":"assistant","content":"","tool_calls":[{"type":"function","function":{"name":"get_weather","arguments":{"city":"Paris","unit":"c"}}}]},
           {"role":"tool","content":"{\"temp\": 21}"},{"role":"tool","content":"second result"},
           {"role":"assistant","content":"It is 21 degrees."}])",
       true, tools, ""},
      {"ToolCallsStringArguments",
       R"([{"role":"user","content":"Find cats"},
           {"role":"assistant","content":null,"tool_calls":[{"type":"function","function":{"name":"search","arguments":"{\"q\": \"cats\"}"}},
             {"type":"function","function":{"name":"search","arguments":"{\"q\": \"dogs\"}"}}]},
           {"role":"tool","content":"cats result"},{"role":"user","content":"thanks"}])",
       true, tools, ""},
      {"Reasoning",
       R"([{"role":"user","content":"Think first"},{"role":"assistant","content":"<think>\nstep 1\nstep 2\n</think>\n\nThe answer is 4."},
           {"role":"user","content":"And now?"}])",
       true, "", ""},
      {"ReasoningContentField",
       R"([{"role":"user","content":"Q"},{"role":"assistant","content":"A","reasoning_content":"because"},{"role":"user","content":"Q2"},
           {"role":"assistant","content":"A2","reasoning_content":"since"}])",
       false, "", ""},
      {"ThinkingDisabled", R"([{"role":"user","content":"Quick answer"}])", true, "",
       R"({"enable_thinking": false})"},
      {"NotAlternating", R"([{"role":"user","content":"a"},{"role":"user","content":"b"}])", true, "", ""},
      {"AssistantFirst", R"([{"role":"assistant","content":"I start"},{"role":"user","content":"ok"}])", true,
       "", ""},
      {"EmptyMessages", R"([])", true, "", ""},
      {"ToolResponseFirstUser",
       R"([{"role":"user","content":"<tool_response>\nx\n</tool_response>"},{"role":"assistant","content":"done"}])",
       true, "", ""},
      {"MultipleSystems",
       R"([{"role":"system","content":"one"},{"role":"system","content":"two"},{"role":"user","content":"u"}])",
       true, "", ""},
  };
  return out;
}

const std::vector<std::string>& template_models() {
  // gpt-oss and Llama 2 ship no chat_template in their tokenizer_config.json.
  static const std::vector<std::string> kModels = {"qwen3", "llama3", "llama3_1", "deepseek_v3", "gemma3"};
  return kModels;
}

class ChatTemplateOracleTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateOracleTest, RenderingAndIdsMatchJinja2AndHuggingFace) {
  const std::string missing = missing_test_data();
  ASSERT_TRUE(missing.empty()) << missing;
  const std::string model = GetParam();
  auto ct = ChatTemplate::from_config_file(model_file(model, "tokenizer_config.json"));
  ASSERT_TRUE(ct) << ct.error().message;

  std::vector<JinjaCase> cases;
  std::vector<Result<std::string>> ours;
  const auto convs = conversations();
  for (const auto& c : convs) {
    ChatRenderOptions opt;
    opt.add_generation_prompt = c.add_generation_prompt;
    opt.now_unix_seconds = kNow;
    boost::json::object ctx = ct->special_tokens_json();
    ctx["messages"] = boost::json::parse(c.messages);
    ctx["add_generation_prompt"] = c.add_generation_prompt;
    ctx["documents"] = nullptr;
    ctx["tools"] = nullptr;
    if (!c.tools.empty()) {
      opt.tools = boost::json::parse(c.tools).as_array();
      ctx["tools"] = *opt.tools;
    }
    if (!c.kwargs.empty()) {
      opt.kwargs = boost::json::parse(c.kwargs).as_object();
      for (const auto& kv : opt.kwargs) ctx[kv.key()] = kv.value();
    }
    ctx["__now__"] = kNow;
    ours.push_back(ct->render(boost::json::parse(c.messages).as_array(), opt));
    cases.push_back({ct->source(), std::move(ctx)});
  }
  std::string failure;
  const auto want = run_jinja_oracle(cases, failure);
  ASSERT_TRUE(failure.empty()) << failure;
  ASSERT_EQ(want.size(), convs.size());

  std::vector<std::string> rendered;
  int successes = 0;
  for (size_t i = 0; i < convs.size(); ++i) {
    SCOPED_TRACE(convs[i].name);
    if (!want[i].ok) {
      EXPECT_FALSE(ours[i].has_value()) << "Jinja2 failed with '" << want[i].error << "' but we rendered:\n"
                                        << escape(ours[i].value());
      if (!ours[i] && want[i].error.find("Conversation roles") != std::string::npos) {
        EXPECT_EQ(ours[i].error().message, want[i].error);  // raise_exception's message
      }
      continue;
    }
    ASSERT_TRUE(ours[i].has_value()) << "Jinja2 rendered but we failed: " << ours[i].error().message;
    EXPECT_EQ(escape(*ours[i]), escape(want[i].output));
    rendered.push_back(*ours[i]);
    ++successes;
  }
  EXPECT_GE(successes, 8) << "too few conversations rendered to be a meaningful comparison";

  // The rendered prompts through both tokenizers, as vLLM tokenizes a chat prompt.
  const OracleRun ids = run_encode_oracle(model_file(model, "tokenizer.json"), nullptr, rendered);
  ASSERT_TRUE(ids.ok) << ids.failure;
  auto tok = Tokenizer::load(model_file(model, "tokenizer.json"));
  ASSERT_TRUE(tok) << tok.error().message;
  for (size_t i = 0; i < rendered.size(); ++i) {
    auto got = (*tok)->encode(rendered[i], EncodeOptions{false});
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, ids.results[i].ids_plain) << escape(rendered[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ChatTemplateOracleTest, ::testing::ValuesIn(template_models()),
                         [](const auto& info) { return info.param; });

TEST(ChatTemplateConfigTest, ModelsWithoutTemplateFailLoudly) {
  const std::string missing = missing_test_data();
  ASSERT_TRUE(missing.empty()) << missing;
  for (const char* model : {"gptoss", "llama2"}) {
    auto ct = ChatTemplate::from_config_file(model_file(model, "tokenizer_config.json"));
    ASSERT_FALSE(ct);
    EXPECT_NE(ct.error().message.find("no chat template"), std::string::npos) << ct.error().message;
  }
}

// Templates that use the rest of the supported subset, rendered by both engines.
struct SubsetCase {
  std::string name;
  std::string source;
  std::string context;  // JSON object
};

std::vector<SubsetCase> subset_cases() {
  const std::string ctx =
      R"({"messages":[{"role":"system","content":"S"},{"role":"user","content":"Hello World"},
    {"role":"assistant","content":"Hi","tool_calls":[{"function":{"name":"f","arguments":{"b":2,"a":[1,2.5,null,true]}}}]}],
    "items":[3,1,2,"x"],"words":["beta","Alpha","gamma","alpha"],"d":{"k2":"v2","k1":"v1","n":{"deep":[10,20]}},
    "s":"  Mixed Case-text (here)  ","n":7,"f":2.5,"neg":-3,"empty":[],"none":null,"flag":true,"uni":"ǅemal İstanbul ß ﬁ"})";
  return {
      {"WhitespaceControl",
       "A\n  {% if true %}\n    x\n  {% endif %}\nB {{- ' y ' -}} C\n{# c #}\n  {#- c -#}  D\n{%+ if true "
       "%}E{% endif +%}\nF",
       ctx},
      {"LoopVariables",
       "{% for m in messages %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/{{ loop.revindex0 "
       "}}/{{ loop.length }}"
       "{{ loop.first }}{{ loop.last }}:{{ m.role }}{{ loop.cycle('a','b') }}"
       "{% if not loop.first %}<{{ loop.previtem.role }}>{% endif %}{% if not loop.last %}[{{ "
       "loop.nextitem.role }}]{% endif %}"
       "|{% endfor %}",
       ctx},
      {"LoopFilterElseBreakContinue",
       "{% for i in items if i is number %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% if i == 2 %}{% "
       "break %}{% endif %}"
       "{% endfor %}|{% for x in empty %}{{ x }}{% else %}none{% endfor %}|{% for k, v in d.items() %}{{ k "
       "}}={{ v }};{% endfor %}"
       "|{% for c in 'héllo' %}{{ c }}.{% endfor %}|{% for k in d %}{{ k }}{% endfor %}",
       ctx},
      {"ScopingAndNamespace",
       "{% set x = 1 %}{% set ns = namespace(count=0, last=none) %}{% for i in items %}{% set x = x + 10 %}"
       "{% set ns.count = ns.count + 1 %}{% set ns.last = i %}{{ x }},{% endfor %}|{{ x }}|{{ ns.count }}|{{ "
       "ns.last }}"
       "{% if true %}{% set y = 5 %}{% endif %}|{{ y }}{% set a, b = [1, 2] %}|{{ a }}{{ b }}"
       "{% set block %}in {{ n }} block{% endset %}|{{ block }}",
       ctx},
      {"Macros",
       "{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ "
       "greet('Al', '?') }} "
       "{{ greet(name='Kw', punct='.') }}{% macro rec(k) %}{% if k > 0 %}{{ k }}{{ rec(k - 1) }}{% endif "
       "%}{% endmacro %} "
       "{{ rec(3) }}",
       ctx},
      {"Arithmetic",
       "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 "
       "}} {{ f * 2 }}"
       " {{ n - f }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -n }} {{ 'ab' * 3 }} {{ [1] + [2] }} {{ 1 ~ 'x' ~ "
       "none }}"
       " {{ 1e3 }} {{ 1.5e-7 }} {{ 12345678901234567.0 }} {{ 0.1 + 0.2 }} {{ 1_000 }} {{ 0x1F }} {{ 3.0 }} "
       "{{ 1 == 1.0 }}",
       ctx},
      {"Comparisons",
       "{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 'a' < 'b' }} {{ [1,2] < [1,3] }} {{ 'x' in 'xyz' }} {{ 4 not in "
       "items }}"
       " {{ 'k1' in d }} {{ none == none }} {{ flag and n }} {{ none or 'dflt' }} {{ not empty }} {{ "
       "undefined_var == none }}"
       " {{ 'yes' if n > 5 else 'no' }} {{ 'never' if false }}|{{ true == 1 }}",
       ctx},
      {"Tests",
       "{{ n is odd }} {{ n is even }} {{ n is divisibleby 7 }} {{ none is none }} {{ missing is defined }} "
       "{{ missing is undefined }}"
       " {{ s is string }} {{ n is number }} {{ f is float }} {{ n is integer }} {{ d is mapping }} {{ items "
       "is iterable }}"
       " {{ items is sequence }} {{ flag is boolean }} {{ flag is true }} {{ flag is false }} {{ 'abc' is "
       "lower }} {{ 'ABC' is upper }}"
       " {{ n is eq 7 }} {{ n is equalto 7 }} {{ n is ne 7 }} {{ n is gt 3 }} {{ n is lt 3 }} {{ n is ge 7 "
       "}} {{ n is le 6 }}"
       " {{ 2 is in items }} {{ greet is callable }} {{ none is not none }} {{ n is not odd }}",
       ctx},
      {"StringMethods",
       "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ s.split() }}|{{ "
       "'a,b,,c'.split(',') }}"
       "|{{ 'a b c'.split(' ', 1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ s.upper() }}|{{ s.lower() }}|{{ "
       "s.title() }}"
       "|{{ 'hello world'.capitalize() }}|{{ s.replace('e', 'E') }}|{{ s.startswith('  M') }}|{{ "
       "s.endswith(('x', '  ')) }}"
       "|{{ s.find('Case') }}|{{ s.count('e') }}|{{ '-'.join(['a', 'b']) }}|{{ '42'.isdigit() }}|{{ "
       "uni.upper() }}|{{ uni.lower() }}"
       "|{{ uni.title() }}|{{ messages[1].content.split(' ')[-1] }}",
       ctx},
      {"Subscripts",
       "{{ items[0] }} {{ items[-1] }} {{ items[1:3] }} {{ items[::-1] }} {{ items[::2] }} {{ items[-2:] }} "
       "{{ 'hello'[1:4] }}"
       " {{ 'héllo'[::-1] }} {{ d['k1'] }} {{ d.k2 }} {{ d.n.deep[1] }} {{ d['n']['deep'][0] }} {{ "
       "messages[0]['role'] }}"
       " {{ items[10] is defined }} {{ d.missing is defined }} {{ d.get('k1') }} {{ d.get('zz', 'fallback') "
       "}} {{ d.keys() | list }}"
       " {{ d.values() | list }} {{ (1, 2)[0] }}",
       ctx},
      {"Filters",
       "{{ words | sort }} {{ words | sort(reverse=true) }} {{ words | sort(case_sensitive=true) }} {{ words "
       "| unique | list }}"
       " {{ items | length }} {{ s | length }} {{ d | length }} {{ s | trim }} {{ s | upper }} {{ s | lower "
       "}} {{ s | title }}"
       " {{ s | capitalize }} {{ s | replace(' ', '_') }} {{ words | join(', ') }} {{ words | first }} {{ "
       "words | last }}"
       " {{ words | reverse | list }} {{ 'abc' | reverse }} {{ missing | default('dflt') }} {{ '' | "
       "default('e', true) }}"
       " {{ none | default('kept') }} {{ '12' | int + 1 }} {{ 'x' | int }} {{ '2.5' | float }} {{ neg | abs "
       "}} {{ 2.567 | round(2) }}"
       " {{ n | string }} {{ items | map('string') | join('-') }} {{ messages | map(attribute='role') | "
       "join(',') }}"
       " {{ messages | selectattr('role', 'equalto', 'user') | list | length }} {{ messages | "
       "rejectattr('role', 'eq', 'user') | map(attribute='role') | list }}"
       " {{ items | select('number') | list }} {{ items | reject('string') | sum }} {{ d | dictsort }} {{ d "
       "| items | list }}"
       " {{ '<a href=\"x\">&</a>' | e }} {{ 'line1\nline2\n\nline4' | indent(2) }} {{ 'l1\nl2' | indent(3, "
       "true) }} {{ [3, 1] | max if false else 'skip' }}",
       ctx},
      {"ToJson",
       "{{ messages | tojson }}\n{{ d | tojson(indent=2) }}\n{{ {'z': 1, 'a': [true, none, 1.5, "
       "'é\"\\\\\n\t<tag>']} | tojson }}"
       "\n{{ items | tojson }} {{ 'x' | tojson }} {{ none | tojson }} {{ 1e100 | tojson }} {{ {'b': 1, 'a': "
       "2} | tojson(sort_keys=true) }}",
       ctx},
      {"PrintingValues",
       "{{ items }} {{ d }} {{ none }} {{ flag }} {{ (1,) }} {{ (1, 'a') }} {{ [none, 'it''s', \"q\\\"q\", "
       "'tab\\t'] }} {{ missing }}"
       "|{{ 'a' 'b' }}|{{ \"\\u00e9\\x41\\101\\n\" }}|{{ '\\q' }}",
       ctx},
      {"Literals",
       "{{ [1, [2, {'k': (3, 4)}]] }} {{ {'a': 1, 'a': 2} }} {{ {} }} {{ [] }} {{ () }} {{ range(3) | list }}"
       " {{ range(1, 10, 3) | list }} {{ dict(a=1, b='x') }} {{ True }} {{ False }} {{ None }}",
       ctx},
      {"Generation",
       "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% set z = 1 %}"
       "{% endgeneration %}{% endif %}{% endfor %}{{ z is defined }}",
       ctx},
      {"RawBlock", "{% raw %}{{ not rendered }} {% if %}{% endraw %}|{%- raw -%}  x  {%- endraw -%}  |", ctx},
      {"UndefinedAttributeError", "{{ missing.attr }}", ctx},
      {"UndefinedArithmeticError", "{{ missing + 1 }}", ctx},
      {"TypeError", "{{ 1 + 'a' }}", ctx},
      {"RaiseException", "{% if n > 3 %}{{ raise_exception('n is too big: ' ~ n) }}{% endif %}", ctx},
      {"UnknownFilter", "{{ n | nosuchfilter }}", ctx},
      {"SyntaxError", "{% if %}", ctx},
      {"UnclosedBlock", "{% for x in items %}{{ x }}", ctx},
      {"StrftimeNow", "{{ strftime_now('%Y-%m-%d %d %b %Y') }}", ctx},
      {"CRLFSource", "line1\r\n{% if true %}\r\n  yes\r\n{% endif %}\r\nend\r\n", ctx},
  };
}

TEST(JinjaSubsetOracleTest, RenderingMatchesJinja2) {
  const std::string missing = missing_test_data();
  ASSERT_TRUE(missing.empty()) << missing;
  const auto cases = subset_cases();
  std::vector<JinjaCase> oracle_cases;
  for (const auto& c : cases) {
    boost::json::object ctx = boost::json::parse(c.context).as_object();
    ctx["__now__"] = kNow;
    oracle_cases.push_back({c.source, std::move(ctx)});
  }
  std::string failure;
  const auto want = run_jinja_oracle(oracle_cases, failure);
  ASSERT_TRUE(failure.empty()) << failure;
  ASSERT_EQ(want.size(), cases.size());
  const std::vector<std::string> failing = {"UndefinedAttributeError",
                                            "UndefinedArithmeticError",
                                            "TypeError",
                                            "RaiseException",
                                            "UnknownFilter",
                                            "SyntaxError",
                                            "UnclosedBlock"};
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    const bool should_fail = std::find(failing.begin(), failing.end(), cases[i].name) != failing.end();
    ASSERT_EQ(want[i].ok, !should_fail) << "the oracle itself: " << want[i].error;
    ChatRenderOptions opt;
    opt.now_unix_seconds = kNow;
    opt.kwargs = boost::json::parse(cases[i].context).as_object();
    Result<std::string> got = make_error(ErrorCode::kInternal, "not rendered");
    auto ct = ChatTemplate::from_source(cases[i].source, boost::json::object{});
    if (ct) {
      opt.kwargs.erase("messages");
      got = ct->render(boost::json::parse(cases[i].context).as_object()["messages"].as_array(), opt);
    } else {
      got = ct.error();
    }
    if (!want[i].ok) {
      EXPECT_FALSE(got.has_value()) << "Jinja2 failed with '" << want[i].error
                                    << "' but we rendered: " << escape(got.value());
      if (cases[i].name == "RaiseException" && !got) {
        EXPECT_EQ(got.error().message, want[i].error);
      }
      continue;
    }
    ASSERT_TRUE(got.has_value()) << "Jinja2 rendered '" << escape(want[i].output)
                                 << "' but we failed: " << got.error().message;
    EXPECT_EQ(escape(*got), escape(want[i].output));
  }
}

}  // namespace
}  // namespace llmd::testing::tok
