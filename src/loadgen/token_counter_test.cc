#include "loadgen/token_counter.h"

#include <string>

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

// A word-level tokenizer: one token per space-separated word, as BPE tokenizers do for short words.
class WordCounter final : public TokenCounter {
 public:
  std::string_view name() const override { return "words"; }
  size_t count(std::string_view text) const override {
    size_t n = 0;
    bool in_word = false;
    for (char c : text) {
      const bool space = c == ' ';
      if (!space && !in_word) ++n;
      in_word = !space;
    }
    return n;
  }
};

// Two words per token: the builder must correct its one-word-per-token first guess.
class PairCounter final : public TokenCounter {
 public:
  std::string_view name() const override { return "pairs"; }
  size_t count(std::string_view text) const override { return (WordCounter().count(text) + 1) / 2; }
};

TEST(CharsPerTokenCounter, RoundsUp) {
  CharsPerTokenCounter c;
  EXPECT_EQ(c.count(""), 0u);
  EXPECT_EQ(c.count("abc"), 1u);
  EXPECT_EQ(c.count("abcd"), 1u);
  EXPECT_EQ(c.count("abcde"), 2u);
}

TEST(PromptBuilder, HitsExactLengthsUnderFourCharsPerToken) {
  CharsPerTokenCounter c;
  PromptBuilder b(c);
  Rng rng(1);
  for (size_t n : {1u, 2u, 7u, 100u, 2048u}) {
    std::string text;
    EXPECT_EQ(b.append(text, n, rng), n);
    EXPECT_EQ(c.count(text), n);
    EXPECT_EQ(text.size(), 4 * n);  // four-byte words
  }
}

TEST(PromptBuilder, AppendsOnTopOfExistingText) {
  CharsPerTokenCounter c;
  PromptBuilder b(c);
  Rng rng(2);
  std::string text;
  b.append(text, 50, rng);
  const std::string prefix = text;
  EXPECT_EQ(b.append(text, 30, rng), 30u);
  EXPECT_EQ(c.count(text), 80u);
  EXPECT_EQ(text.substr(0, prefix.size()), prefix);
}

TEST(PromptBuilder, WorksWithOtherTokenizers) {
  WordCounter words;
  PairCounter pairs;
  Rng rng(3);
  std::string a;
  EXPECT_EQ(PromptBuilder(words).append(a, 321, rng), 321u);
  EXPECT_EQ(words.count(a), 321u);
  std::string b;
  EXPECT_EQ(PromptBuilder(pairs).append(b, 321, rng), 321u);
  EXPECT_EQ(pairs.count(b), 321u);
}

TEST(PromptBuilder, DeterministicForASeed) {
  CharsPerTokenCounter c;
  PromptBuilder b(c);
  Rng r1(7), r2(7), r3(8);
  std::string x, y, z;
  b.append(x, 200, r1);
  b.append(y, 200, r2);
  b.append(z, 200, r3);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
}

}  // namespace
}  // namespace llmd::loadgen
