#include "tokenizer/regex.h"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace llmd::tokenizer {
namespace {

std::vector<std::pair<size_t, size_t>> matches(const std::string& pattern, const std::string& text) {
  auto re = Regex::compile(pattern);
  EXPECT_TRUE(re) << (re ? "" : re.error().message);
  if (!re) return {};
  RegexScratch scratch;
  std::vector<std::pair<size_t, size_t>> out;
  auto r = (*re)->for_each_match(text, scratch, [&](size_t s, size_t e) { out.emplace_back(s, e); });
  EXPECT_TRUE(r);
  return out;
}

TEST(RegexTest, TranslatesOnigurumaClasses) {
  auto t = translate_onig_pattern(R"(\s+(?!\S)|[^\s\p{L}]|\w\h)");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->find("\\s"), std::string::npos);
  EXPECT_NE(t->find("\\x{85}"), std::string::npos);
  EXPECT_NE(t->find("0-9a-fA-F"), std::string::npos);
  auto m = translate_onig_pattern("(?mi:a.b)");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, "(?si:a.b)");
  auto u = translate_onig_pattern(R"(\u00e9)");
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, "\\x{00e9}");
  EXPECT_FALSE(translate_onig_pattern(R"([^\S])"));
  EXPECT_FALSE(translate_onig_pattern("[a-z&&[^aeiou]]"));
  EXPECT_FALSE(translate_onig_pattern("[abc"));
}

TEST(RegexTest, WhitespaceIncludesNextLine) {
  // Oniguruma's \s matches U+0085, which PCRE2's \s does not.
  const auto m = matches(R"(\s+)", "a\xC2\x85 b");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], std::make_pair(size_t{1}, size_t{4}));
}

TEST(RegexTest, EmptyMatchesFollowOnigurumaIteration) {
  const auto m = matches("a*", "baac");
  const std::vector<std::pair<size_t, size_t>> want = {{0, 0}, {1, 3}, {4, 4}};
  EXPECT_EQ(m, want);
}

TEST(RegexTest, Llama3PatternSplitsContractionsAndDigits) {
  const std::string pat =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const std::string text = "I'LL pay 12345 now  \n";
  std::vector<std::string> pieces;
  for (auto [s, e] : matches(pat, text)) pieces.push_back(text.substr(s, e - s));
  const std::vector<std::string> want = {"I", "'LL", " pay", " ", "123", "45", " now", "  \n"};
  EXPECT_EQ(pieces, want);
}

TEST(RegexTest, LongWhitespaceRunDoesNotExhaustTheStack) {
  const std::string text(200000, ' ');
  const auto m = matches(R"(\s+(?!\S)|\s+)", text + "x");
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m[0].first, 0u);
}

TEST(RegexTest, BadPatternFails) {
  auto re = Regex::compile("(unclosed");
  ASSERT_FALSE(re);
  EXPECT_NE(re.error().message.find("(unclosed"), std::string::npos);
}

}  // namespace
}  // namespace llmd::tokenizer
