#include "sim/engine/tokenizer.h"

#include <gtest/gtest.h>

namespace llmd::sim {
namespace {

const char* kEnglish =
    "Large language models are served by engines that batch many requests together. The scheduler "
    "decides, at every iteration, which sequences run, and the router in front of the engines decides "
    "which replica receives each request. Prefix caching lets a replica skip the work it has already "
    "done for an identical beginning of a prompt, so sending related requests to the same place saves "
    "time and money. Queueing, memory pressure and preemption make the picture more complicated.";

TEST(PseudoTokenizerTest, RoundTripsText) {
  PseudoTokenizer t;
  for (std::string s : {std::string(kEnglish), std::string("héllo, 世界! 12345 ab\n\tx  y"),
                        std::string("a\0b", 3), std::string("bad \xff\xfe utf8 \xe4\xb8")}) {
    EXPECT_EQ(t.decode(t.encode(s)), s);
  }
}

TEST(PseudoTokenizerTest, SplitsAsDocumented) {
  PseudoTokenizer t;
  const auto ids = t.encode(" hello world, 12345");
  std::vector<std::string> pieces;
  for (uint32_t id : ids) {
    std::string s;
    ASSERT_TRUE(t.append_token(id, s));
    pieces.push_back(s);
  }
  EXPECT_EQ(pieces, (std::vector<std::string>{" hell", "o", " worl", "d", ",", " 123", "45"}));
}

TEST(PseudoTokenizerTest, AboutFourCharactersPerTokenOnEnglish) {
  const std::string text = kEnglish;
  const double ratio =
      static_cast<double>(text.size()) / static_cast<double>(PseudoTokenizer().encode(text).size());
  EXPECT_GT(ratio, 3.5);
  EXPECT_LT(ratio, 4.5);
}

TEST(PseudoTokenizerTest, IdenticalPrefixesGiveIdenticalTokenPrefixes) {
  PseudoTokenizer t;
  const std::string text = kEnglish;
  const auto full = t.encode(text + " And then some more words follow.");
  for (size_t cut = 1; cut < text.size(); cut += 7) {
    const auto prefix = t.encode(text.substr(0, cut));
    ASSERT_FALSE(prefix.empty());
    // Every token but the last of the prefix's tokenization is shared.
    for (size_t i = 0; i + 1 < prefix.size(); ++i)
      ASSERT_EQ(prefix[i], full[i]) << "cut " << cut << " i " << i;
  }
}

TEST(PseudoTokenizerTest, RejectsForeignIds) {
  PseudoTokenizer t;
  std::string s;
  EXPECT_FALSE(t.append_token(0, s));
  EXPECT_FALSE(t.append_token(0x7fffffff, s));
  EXPECT_FALSE(t.append_token((1u << 29) | 0xd800, s));  // surrogate
  EXPECT_FALSE(t.append_token(0x80 | ('a' << 7), s) && false);
  EXPECT_FALSE(t.append_token('a' << 7, s));  // gap in the packed characters
  EXPECT_TRUE(s.empty());
}

TEST(ChatTemplateTest, ConversationRenderingIsAPrefixOfTheNextTurn) {
  std::vector<ChatMessage> conv = {{"system", "You are terse."}, {"user", "Hi"}};
  const std::string first = render_chat(conv, true);
  EXPECT_EQ(first,
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  conv.push_back({"assistant", "Hello."});
  conv.push_back({"user", "More"});
  EXPECT_EQ(render_chat(conv, true).rfind(first, 0), 0u);
}

TEST(FillerTest, FillerDecodesToText) {
  const auto& f = filler_tokens();
  ASSERT_GT(f.size(), 50u);
  EXPECT_EQ(PseudoTokenizer().decode(f).rfind("The simulated model", 0), 0u);
}

}  // namespace
}  // namespace llmd::sim
