#include "tokenizer/tokenizer.h"

#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "tokenizer/pre_tokenizer.h"

namespace llmd::tokenizer {
namespace {

// A byte-level BPE whose first 256 ids are the byte characters in byte order, plus `merges`.
boost::json::object byte_level_json(const std::vector<std::pair<std::string, std::string>>& merges) {
  const auto& table = ByteLevelTable::get();
  boost::json::object vocab;
  uint32_t next = 0;
  for (int b = 0; b < 256; ++b) vocab[std::string(table.chars[b])] = next++;
  boost::json::array merge_list;
  for (const auto& [a, b] : merges) {
    if (!vocab.contains(a + b)) vocab[a + b] = next++;
    merge_list.push_back(boost::json::string(a + " " + b));
  }
  boost::json::object model{{"type", "BPE"},     {"dropout", nullptr},     {"unk_token", nullptr},
                            {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false}};
  model["vocab"] = std::move(vocab);
  model["merges"] = std::move(merge_list);
  boost::json::object root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] = boost::json::array();
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] =
      boost::json::parse(R"({"type":"ByteLevel","add_prefix_space":false,"use_regex":true})");
  root["post_processor"] = nullptr;
  root["decoder"] = boost::json::parse(R"({"type":"ByteLevel"})");
  root["model"] = std::move(model);
  return root;
}

std::shared_ptr<const Tokenizer> load(const boost::json::object& root) {
  auto t = Tokenizer::from_json(boost::json::serialize(root));
  EXPECT_TRUE(t) << (t ? "" : t.error().message);
  return t ? *t : nullptr;
}

std::vector<uint32_t> encode(const Tokenizer& t, std::string_view text, bool special = true) {
  auto r = t.encode(text, EncodeOptions{special});
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return r ? *r : std::vector<uint32_t>{};
}

const std::vector<std::pair<std::string, std::string>> kHelloMerges = {
    {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"\xC4\xA0", "w"}, {"o", "r"}, {"\xC4\xA0w", "or"}};

TEST(TokenizerTest, ByteLevelEncodeAndDecode) {
  auto t = load(byte_level_json(kHelloMerges));
  ASSERT_TRUE(t);
  // "hello" merges fully (259); " world" becomes "Ġwor" (262) + "l" + "d".
  const std::vector<uint32_t> want = {259, 262, 'l', 'd'};
  EXPECT_EQ(encode(*t, "hello world"), want);
  EXPECT_EQ(t->decode(want), "hello world");
  EXPECT_EQ(t->token_to_id("hello"), 259u);
  EXPECT_EQ(t->id_to_token(262), "\xC4\xA0wor");
  EXPECT_FALSE(t->id_to_token(9999));
  EXPECT_EQ(t->vocab_size(), 263u);
}

TEST(TokenizerTest, LowestRankMergesFirstThenLeftmost) {
  auto ab_first = load(byte_level_json({{"a", "b"}, {"b", "c"}}));
  auto bc_first = load(byte_level_json({{"b", "c"}, {"a", "b"}}));
  ASSERT_TRUE(ab_first && bc_first);
  EXPECT_EQ(encode(*ab_first, "abc"), (std::vector<uint32_t>{256, 'c'}));
  EXPECT_EQ(encode(*bc_first, "abc"), (std::vector<uint32_t>{'a', 256}));
  // Equal pairs: the leftmost merges first, so "aaa" is "aa" + "a".
  auto aa = load(byte_level_json({{"a", "a"}}));
  EXPECT_EQ(encode(*aa, "aaa"), (std::vector<uint32_t>{256, 'a'}));
}

TEST(TokenizerTest, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  auto root = byte_level_json({{"a", "b"}, {"b", "c"}, {"ab", "c"}});
  // "abc" would merge as ab+c -> abc anyway; make a word that only exists whole.
  root["model"].as_object()["vocab"].as_object()["xyz"] = 500;
  root["model"].as_object()["ignore_merges"] = true;
  auto t = load(root);
  ASSERT_TRUE(t);
  EXPECT_EQ(encode(*t, "xyz"), (std::vector<uint32_t>{500}));
  root["model"].as_object()["ignore_merges"] = false;
  auto t2 = load(root);
  EXPECT_EQ(encode(*t2, "xyz"), (std::vector<uint32_t>{'x', 'y', 'z'}));
}

TEST(TokenizerTest, AddedTokensAndTemplateProcessing) {
  auto root = byte_level_json(kHelloMerges);
  root["added_tokens"] = boost::json::parse(R"([
    {"id":263,"content":"<|end|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
    {"id":264,"content":"<bos>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
    {"id":265,"content":"tool","single_word":true,"lstrip":false,"rstrip":false,"normalized":false,"special":false}])");
  root["post_processor"] = boost::json::parse(R"({"type":"TemplateProcessing",
    "single":[{"SpecialToken":{"id":"<bos>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
    "special_tokens":{"<bos>":{"id":"<bos>","ids":[264],"tokens":["<bos>"]}}})");
  auto t = load(root);
  ASSERT_TRUE(t);
  EXPECT_EQ(encode(*t, "hello<|end|>"), (std::vector<uint32_t>{264, 259, 263}));
  EXPECT_EQ(encode(*t, "hello<|end|>", false), (std::vector<uint32_t>{259, 263}));
  // single_word: "tool" is only an added token as a whole word.
  EXPECT_EQ(encode(*t, "tool", false), (std::vector<uint32_t>{265}));
  EXPECT_EQ(encode(*t, "tools", false), (std::vector<uint32_t>{'t', 'o', 'o', 'l', 's'}));
  EXPECT_TRUE(t->is_special(263));
  EXPECT_FALSE(t->is_special(265));
  const std::vector<uint32_t> ids = {264, 259, 263};
  EXPECT_EQ(t->decode(ids, false), "<bos>hello<|end|>");
  EXPECT_EQ(t->decode(ids, true), "hello");
  EXPECT_EQ(t->vocab_size(true), 266u);
}

TEST(TokenizerTest, InvalidUtf8IsRepairedLikeAJavaScriptString) {
  auto t = load(byte_level_json(kHelloMerges));
  ASSERT_TRUE(t);
  EXPECT_EQ(encode(*t, "he\xFFllo"), encode(*t, "he\xEF\xBF\xBDllo"));
  EXPECT_EQ(encode(*t, "\xE2\x82"), encode(*t, "\xEF\xBF\xBD"));
}

TEST(TokenizerTest, SentencePieceStyleByteFallbackAndUnknowns) {
  boost::json::object vocab{{"<unk>", 0}, {"\xE2\x96\x81", 1},   {"h", 2},      {"i", 3},
                            {"hi", 4},    {"\xE2\x96\x81hi", 5}, {"<0xC3>", 6}, {"<0xA9>", 7}};
  boost::json::object model{{"type", "BPE"},    {"unk_token", "<unk>"},
                            {"fuse_unk", true}, {"byte_fallback", true},
                            {"vocab", vocab},   {"merges", boost::json::parse(R"(["h i", "▁ hi"])")}};
  boost::json::object root;
  root["model"] = model;
  root["normalizer"] = boost::json::parse(
      R"({"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]})");
  root["decoder"] = boost::json::parse(
      R"({"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]})");
  auto t = load(root);
  ASSERT_TRUE(t);
  // "é" falls back to its bytes; "xy" has neither tokens nor byte tokens: one fused <unk>.
  EXPECT_EQ(encode(*t, "hi \xC3\xA9xy"), (std::vector<uint32_t>{5, 1, 6, 7, 0}));
  EXPECT_EQ(t->decode(std::vector<uint32_t>{5, 1, 6, 7}), "hi \xC3\xA9");
  EXPECT_EQ(t->decode(std::vector<uint32_t>{5, 6}), "hi\xEF\xBF\xBD");  // a lone byte decodes to U+FFFD
  root["model"].as_object()["fuse_unk"] = false;
  auto unfused = load(root);
  EXPECT_EQ(encode(*unfused, "xy"), (std::vector<uint32_t>{1, 0, 0}));
}

TEST(TokenizerTest, UnsupportedComponentsFailAtLoadNamingThePath) {
  auto expect_error = [](boost::json::object root, const std::string& needle) {
    auto t = Tokenizer::from_json(boost::json::serialize(root));
    ASSERT_FALSE(t) << needle;
    EXPECT_NE(t.error().message.find(needle), std::string::npos) << t.error().message;
  };
  auto base = byte_level_json(kHelloMerges);
  auto r1 = base;
  r1["normalizer"] = boost::json::parse(R"({"type":"BertNormalizer"})");
  expect_error(r1, "normalizer.type: unsupported normalizer 'BertNormalizer'");
  auto r2 = base;
  r2["pre_tokenizer"] = boost::json::parse(
      R"({"type":"Sequence","pretokenizers":[{"type":"ByteLevel"},{"type":"BertPreTokenizer"}]})");
  expect_error(r2, "pre_tokenizer.pretokenizers[1].type");
  auto r3 = base;
  r3["model"].as_object()["type"] = "WordPiece";
  expect_error(r3, "model.type: unsupported model 'WordPiece'");
  auto r4 = base;
  r4["model"].as_object()["merges"] = boost::json::parse(R"(["h nosuchtoken"])");
  expect_error(r4, "model.merges[0]");
  auto r5 = base;
  r5["truncation"] = boost::json::parse(R"({"max_length":4})");
  expect_error(r5, "truncation");
  auto r6 = base;
  r6["model"].as_object()["dropout"] = 0.1;
  expect_error(r6, "model.dropout");
  auto r7 = base;
  r7["post_processor"] = boost::json::parse(R"({"type":"RobertaProcessing"})");
  expect_error(r7, "post_processor.type");
  auto r8 = base;
  r8["decoder"] = boost::json::parse(R"({"type":"WordPiece"})");
  expect_error(r8, "decoder.type");
  auto r9 = base;
  r9["pre_tokenizer"] =
      boost::json::parse(R"({"type":"Split","pattern":{"Regex":"[a-z&&[^b]]"},"behavior":"Isolated"})");
  expect_error(r9, "pre_tokenizer.pattern.Regex");
  expect_error(boost::json::object{{"model", nullptr}}, "model: expected object");
  EXPECT_FALSE(Tokenizer::from_json("{not json"));
  EXPECT_FALSE(Tokenizer::load("/nonexistent/tokenizer.json"));
}

TEST(TokenizerTest, BatchEncodingIsThreadSafeAndOrdered) {
  auto t = load(byte_level_json(kHelloMerges));
  ASSERT_TRUE(t);
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i)
    texts.push_back("hello world " + std::to_string(i) + std::string(i % 7, ' ') + "\xC3\xA9");
  std::vector<std::string_view> views(texts.begin(), texts.end());
  auto batch = t->encode_batch(views, EncodeOptions{}, 4);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ((*batch)[i], encode(*t, texts[i])) << i;
  // Plain encode() from several threads at once over one shared tokenizer.
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (size_t i = 0; i < texts.size(); ++i) {
        auto r = t->encode(texts[i]);
        if (!r || *r != (*batch)[i]) ++mismatches[static_cast<size_t>(k)];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(TokenizerTest, WordCacheIsBoundedAndCounted) {
  auto t = load(byte_level_json(kHelloMerges));
  ASSERT_TRUE(t);
  EncodeScratch scratch(4);  // rounded up to a power of two
  std::vector<uint32_t> out;
  ASSERT_TRUE(t->encode("hello hello hello", EncodeOptions{}, scratch, out));
  EXPECT_EQ(out, (std::vector<uint32_t>{259, 32, 259, 32, 259}));
  const auto& st = scratch.cache_stats();
  EXPECT_EQ(st.misses, 2u);  // "hello" and " hello"
  EXPECT_EQ(st.hits, 1u);
  std::string many;
  for (int i = 0; i < 64; ++i) many += " w" + std::to_string(i);
  ASSERT_TRUE(t->encode(many, EncodeOptions{}, scratch, out));
  EXPECT_GT(scratch.cache_stats().evictions, 0u);
}

}  // namespace
}  // namespace llmd::tokenizer
