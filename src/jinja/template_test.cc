#include "jinja/template.h"

#include <boost/json.hpp>

#include <gtest/gtest.h>

namespace llmd::jinja {
namespace {

std::string render(std::string_view src, std::string_view ctx = "{}", Options opt = {}) {
  auto t = Template::parse(src, opt);
  if (!t) return "PARSE ERROR: " + t.error().message;
  Value v = Value::from_json(boost::json::parse(ctx));
  auto r = t->render(v.as_dict());
  if (!r) return "RENDER ERROR: " + r.error().message;
  return *r;
}

TEST(TemplateTest, WhitespaceControl) {
  Options trim;
  trim.trim_blocks = true;
  trim.lstrip_blocks = true;
  EXPECT_EQ(render("a\n  {% if true %}\n  b\n  {% endif %}\nc", "{}", trim), "a\n  b\nc");
  EXPECT_EQ(render("a\n  {% if true %}\n  b\n  {% endif %}\nc"), "a\n  \n  b\n  \nc");
  EXPECT_EQ(render("a  {{- 'x' -}}  b"), "axb");
  EXPECT_EQ(render("  {%+ if true %}x{% endif %}", "{}", trim), "  x");
  EXPECT_EQ(render("x\n"), "x");  // one trailing newline is dropped
  Options keep;
  keep.keep_trailing_newline = true;
  EXPECT_EQ(render("x\n", "{}", keep), "x\n");
  EXPECT_EQ(render("a{# comment #}b"), "ab");
}

TEST(TemplateTest, ScopesFollowJinja) {
  // A for loop's body is a new scope each iteration; if blocks are not scopes.
  EXPECT_EQ(
      render(
          "{% set x = 0 %}{% for i in [1,2,3] %}{{ x }}{% if loop.first %}{% set x = 5 %}{% endif %}{{ x }}|"
          "{% endfor %}{{ x }}"),
      "05|00|00|0");
  EXPECT_EQ(render("{% if true %}{% set z = 3 %}{% endif %}{{ z }}"), "3");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor "
                   "%}{{ ns.n }}"),
            "6");
}

TEST(TemplateTest, UndefinedSemantics) {
  EXPECT_EQ(
      render(
          "[{{ missing }}]{{ missing is defined }}{{ missing | length }}{% for x in missing %}x{% endfor %}"),
      "[]False0");
  EXPECT_EQ(render("{{ d.y is defined }}", R"({"d":{}})"), "False");
  EXPECT_NE(render("{{ missing.attr }}").find("RENDER ERROR: 'missing' is undefined"), std::string::npos);
  EXPECT_NE(render("{{ missing + 1 }}").find("RENDER ERROR"), std::string::npos);
}

TEST(TemplateTest, ExpressionsAndFilters) {
  EXPECT_EQ(render("{{ messages[::-1] | map(attribute='r') | join(',') }}",
                   R"({"messages":[{"r":"a"},{"r":"b"}]})"),
            "b,a");
  EXPECT_EQ(render("{{ 'a' if x else 'b' }}{{ x or 'y' }}{{ 1 < 2 <= 2 }}", R"({"x":0})"), "byTrue");
  EXPECT_EQ(render("{{ '  x '.strip() ~ '|' ~ 'a,b'.split(',') | length }}"), "x|2");
  EXPECT_EQ(render("{{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 3 }} {{ 7 / 2 }}"), "-4 2 8 3.5");
  EXPECT_EQ(render("{% macro m(a, b='d') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(1, b=2) }}"), "1d12");
  EXPECT_EQ(render("{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue "
                   "%}{% endif %}"
                   "{{ i }}{% endfor %}"),
            "02");
}

TEST(TemplateTest, ErrorsAreReported) {
  EXPECT_NE(render("{% if %}").find("PARSE ERROR"), std::string::npos);
  EXPECT_NE(render("{% for x in y %}").find("PARSE ERROR"), std::string::npos);
  EXPECT_NE(render("{{ x | nosuch }}").find("No filter named 'nosuch'"), std::string::npos);
  EXPECT_NE(render("{% include 'x' %}").find("unsupported statement 'include'"), std::string::npos);
  EXPECT_NE(render("{{ range(1000000) | length }}").find("Range too big"), std::string::npos);
  EXPECT_NE(render("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}").find("recursion too deep"),
            std::string::npos);
}

// Found by tokenizer_jinja_fuzz: a namespace holding itself recursed in str() until the stack ran
// out, and its shared ownership cycle was never freed.
TEST(TemplateTest, ANamespaceCannotHoldANamespace) {
  const std::string want = "RENDER ERROR: a namespace attribute cannot hold a namespace";
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% set ns.n = ns %}{{ ns.n }}"), want);
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% set ns.n = [1, {'a': ns}] %}{{ ns.n }}"), want);
  EXPECT_EQ(render("{% set a = namespace() %}{% set b = namespace(x=a) %}"), want);
  // Namespaces still hold anything else, and can sit in lists.
  EXPECT_EQ(
      render("{% set ns = namespace(n=[1, {'a': 2}]) %}{% set ns.m = ns.n %}{{ ns.m }}|{{ [ns] | length }}"),
      "[1, {'a': 2}]|1");
}

TEST(TemplateTest, NamespaceNestingIsBounded) {
  // Each iteration wraps the previous value once more: bounded, not left to overflow the stack.
  const std::string r = render(
      "{% set ns = namespace(n=0) %}{% for i in range(1000) %}{% set ns.n = [ns.n] %}{% endfor %}{{ ns.n }}");
  EXPECT_EQ(r, "RENDER ERROR: a namespace attribute cannot nest deeper than 128 levels, got 129");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in range(127) %}{% set ns.n = [ns.n] %}{% endfor %}"
                   "{{ ns.n | length }}"),
            "1");
}

}  // namespace
}  // namespace llmd::jinja
