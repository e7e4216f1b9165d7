#include "loadgen/hf_token_counter.h"

#include <gtest/gtest.h>

namespace llmd::loadgen {
namespace {

// A byte-level BPE vocabulary of the space ("Ġ") and the 26 lowercase letters, without merges: each
// of PromptBuilder's four-byte words is four tokens.
constexpr std::string_view kLetters = R"({"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
 "normalizer":null,"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
 "post_processor":null,"decoder":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
 "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,"end_of_word_suffix":null,
  "fuse_unk":false,"byte_fallback":false,"vocab":{"\u0120":0,"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,
  "j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"s":19,"t":20,"u":21,"v":22,"w":23,"x":24,"y":25,
  "z":26},"merges":[]}})";

TEST(HfTokenCounter, CountsWithTheModelsTokenizer) {
  auto tok = tokenizer::Tokenizer::from_json(kLetters);
  ASSERT_TRUE(tok) << tok.error().message;
  HfTokenCounter counter(*tok);
  EXPECT_EQ(counter.count(" the cat"), 8u);
  EXPECT_EQ(counter.count(""), 0u);
}

TEST(HfTokenCounter, BuilderAdaptsToFourTokensPerWord) {
  auto tok = tokenizer::Tokenizer::from_json(kLetters);
  ASSERT_TRUE(tok) << tok.error().message;
  HfTokenCounter counter(*tok);
  PromptBuilder builder(counter);
  Rng rng(3);
  std::string text;
  EXPECT_EQ(builder.append(text, 100, rng), 100u);
  EXPECT_EQ(counter.count(text), 100u);
  // 101 is not reachable in whole words: the builder stops at the closest count below.
  std::string more;
  EXPECT_EQ(builder.append(more, 101, rng), 100u);
  EXPECT_EQ(counter.count(more), 100u);
}

TEST(HfTokenCounter, LoadReportsMissingFiles) {
  auto r = HfTokenCounter::load("/nonexistent/tokenizer.json");
  EXPECT_FALSE(r);
}

}  // namespace
}  // namespace llmd::loadgen
