// Oracle tests: our tokenizer against the Rust Hugging Face tokenizers library (run under node
// by tests/tokenizer/oracle_encode.js), id for id, on the real tokenizer files of seven models
// and on variants of them that exercise the other supported components.

#include <cstdio>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "tokenizer/oracle.h"
#include "tokenizer/tokenizer.h"

namespace llmd::testing::tok {
namespace {

using llmd::tokenizer::EncodeOptions;
using llmd::tokenizer::Tokenizer;

std::string ids_str(const std::vector<uint32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

// Compares every input with the oracle; reports at most a few mismatches in full.
void compare_with_oracle(const std::string& path, const boost::json::object* patch,
                         const std::vector<std::string>& inputs) {
  const std::string missing = missing_test_data();
  ASSERT_TRUE(missing.empty()) << missing;
  const OracleRun oracle = run_encode_oracle(path, patch, inputs);
  ASSERT_TRUE(oracle.ok) << oracle.failure;
  ASSERT_TRUE(oracle.load_error.empty()) << "oracle refused the tokenizer: " << oracle.load_error;
  ASSERT_EQ(oracle.results.size(), inputs.size());

  std::string json_text = read_file(path);
  if (patch != nullptr) {
    auto root = boost::json::parse(json_text).as_object();
    for (const auto& kv : *patch) root[kv.key()] = kv.value();
    json_text = boost::json::serialize(root);
  }
  auto tok = Tokenizer::from_json(json_text);
  ASSERT_TRUE(tok) << tok.error().message;

  int reported = 0;
  size_t mismatches = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& want = oracle.results[i];
    auto with = (*tok)->encode(inputs[i], EncodeOptions{true});
    auto plain = (*tok)->encode(inputs[i], EncodeOptions{false});
    ASSERT_TRUE(with) << with.error().message;
    ASSERT_TRUE(plain) << plain.error().message;
    const std::string decoded = (*tok)->decode(*with, false);
    const std::string decoded_skip = (*tok)->decode(*with, true);
    const bool same = *with == want.ids && *plain == want.ids_plain && decoded == want.decoded &&
                      decoded_skip == want.decoded_skip;
    if (same) continue;
    ++mismatches;
    if (reported++ >= 5) continue;
    ADD_FAILURE() << "input " << i << ": \"" << escape(inputs[i]) << "\"\n"
                  << "  ids      want " << ids_str(want.ids) << "\n"
                  << "           got  " << ids_str(*with) << "\n"
                  << "  plain    want " << ids_str(want.ids_plain) << "\n"
                  << "           got  " << ids_str(*plain) << "\n"
                  << "  decoded  want \"" << escape(want.decoded) << "\"\n"
                  << "           got  \"" << escape(decoded) << "\"\n"
                  << "  skipped  want \"" << escape(want.decoded_skip) << "\"\n"
                  << "           got  \"" << escape(decoded_skip) << "\"";
  }
  EXPECT_EQ(mismatches, 0u) << "of " << inputs.size() << " inputs";
}

class ModelOracleTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelOracleTest, IdsAndDecodingMatchHuggingFace) {
  compare_with_oracle(model_file(GetParam(), "tokenizer.json"), nullptr, corpus_inputs());
}

INSTANTIATE_TEST_SUITE_P(Models, ModelOracleTest, ::testing::ValuesIn(model_names()),
                         [](const auto& info) { return info.param; });

// Variants: the real vocabularies with other normalizers, pre-tokenizers, decoders and added
// tokens swapped in, so that every supported component is checked against the library.
struct Variant {
  std::string name;
  std::string base;   // model whose tokenizer.json is patched
  std::string patch;  // JSON object of top-level keys to replace
};

std::vector<Variant> variants() {
  return {
      {"NfkcLowercaseStrip", "llama2",
       R"({"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"},
          {"type":"Strip","strip_left":true,"strip_right":true},{"type":"Prepend","prepend":"▁"},
          {"type":"Replace","pattern":{"String":" "},"content":"▁"}]}})"},
      {"NfdRegexReplace", "llama2",
       R"({"normalizer":{"type":"Sequence","normalizers":[{"type":"NFD"},
          {"type":"Replace","pattern":{"Regex":"\\s+"},"content":" "},
          {"type":"Replace","pattern":{"String":" "},"content":"▁"}]}})"},
      {"MetaspaceFirst", "llama2",
       R"({"normalizer":null,"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true},
          "decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}})"},
      {"MetaspaceAlwaysNoSplit", "llama2",
       R"({"normalizer":null,"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":false},
          "decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":false}})"},
      {"MetaspaceNever", "llama2",
       R"({"normalizer":null,"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":true},
          "decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"never","split":true}})"},
      {"WhitespaceDigitsPunctuation", "llama2",
       R"({"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Whitespace"},
          {"type":"Digits","individual_digits":true},{"type":"Punctuation","behavior":"Isolated"}]}})"},
      {"WhitespaceSplitContiguousDigits", "llama2",
       R"({"normalizer":null,"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},
          {"type":"Digits","individual_digits":false},{"type":"Punctuation","behavior":"MergedWithPrevious"}]}})"},
      {"SplitBehaviors", "llama2",
       R"({"normalizer":null,"pre_tokenizer":{"type":"Sequence","pretokenizers":[
          {"type":"Split","pattern":{"String":" "},"behavior":"MergedWithNext","invert":false},
          {"type":"Split","pattern":{"Regex":"[0-9]+"},"behavior":"Contiguous","invert":false},
          {"type":"Split","pattern":{"Regex":"\\p{P}"},"behavior":"Removed","invert":false},
          {"type":"Split","pattern":{"Regex":"[aeiou]+"},"behavior":"MergedWithPrevious","invert":true}]},
          "decoder":{"type":"Sequence","decoders":[{"type":"ByteFallback"},{"type":"Fuse"},
          {"type":"Strip","content":"a","start":2,"stop":0},{"type":"Replace","pattern":{"Regex":"[xyz]"},"content":"Q"}]}})"},
      {"AddedTokenFlags", "llama2",
       R"({"added_tokens":[
          {"id":0,"content":"<unk>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
          {"id":1,"content":"<s>","single_word":false,"lstrip":true,"rstrip":false,"normalized":false,"special":true},
          {"id":2,"content":"</s>","single_word":false,"lstrip":false,"rstrip":true,"normalized":false,"special":true},
          {"id":32000,"content":"<mask>","single_word":true,"lstrip":true,"rstrip":true,"normalized":false,"special":false},
          {"id":32001,"content":"hello","single_word":true,"lstrip":false,"rstrip":false,"normalized":true,"special":false},
          {"id":32002,"content":"the","single_word":false,"lstrip":false,"rstrip":false,"normalized":true,"special":true},
          {"id":32003,"content":"<|eot_id|>","single_word":false,"lstrip":true,"rstrip":true,"normalized":false,"special":true}]})"},
      {"ByteLevelPrefixSpaceRegex", "qwen3",
       R"({"normalizer":{"type":"NFKC"},"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true}})"},
      {"ByteLevelAfterDigits", "qwen3",
       R"({"normalizer":{"type":"Lowercase"},"pre_tokenizer":{"type":"Sequence","pretokenizers":[
          {"type":"Digits","individual_digits":true},
          {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}]},
          "post_processor":{"type":"TemplateProcessing",
          "single":[{"SpecialToken":{"id":"<|im_start|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},
          {"SpecialToken":{"id":"<|im_end|>","type_id":0}}],
          "pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],
          "special_tokens":{"<|im_start|>":{"id":"<|im_start|>","ids":[151644],"tokens":["<|im_start|>"]},
          "<|im_end|>":{"id":"<|im_end|>","ids":[151645],"tokens":["<|im_end|>"]}}}})"},
      {"ByteLevelNotLast", "qwen3",
       R"({"pre_tokenizer":{"type":"Sequence","pretokenizers":[
          {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
          {"type":"Split","pattern":{"String":"Ġ"},"behavior":"MergedWithNext","invert":false}]}})"},
      {"IgnoreMergesOff", "llama3", R"({"model":null})"},
  };
}

// Names the variant in test output instead of dumping its bytes.
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

class VariantOracleTest : public ::testing::TestWithParam<Variant> {};

TEST_P(VariantOracleTest, IdsAndDecodingMatchHuggingFace) {
  const Variant& v = GetParam();
  const std::string missing = missing_test_data();
  ASSERT_TRUE(missing.empty()) << missing;
  boost::json::object patch = boost::json::parse(v.patch).as_object();
  const std::string path = model_file(v.base, "tokenizer.json");
  if (patch.contains("model") && patch["model"].is_null()) {
    // Same model with ignore_merges switched off.
    auto model = boost::json::parse(read_file(path)).as_object()["model"].as_object();
    model["ignore_merges"] = false;
    patch["model"] = std::move(model);
  }
  std::vector<std::string> inputs = corpus_inputs();
  inputs.resize(std::min<size_t>(inputs.size(), 200));
  compare_with_oracle(path, &patch, inputs);
}

INSTANTIATE_TEST_SUITE_P(Components, VariantOracleTest, ::testing::ValuesIn(variants()),
                         [](const auto& info) { return info.param.name; });

// A small synthetic BPE with affixes: letters, their continuation (prefix) or end-of-word
// (suffix) forms, a few merges, an unknown token and some byte-fallback tokens.
boost::json::object affix_model(bool prefix_mode, bool fuse_unk, bool byte_fallback) {
  boost::json::object vocab;
  uint32_t next = 0;
  auto add = [&](const std::string& t) {
    if (!vocab.contains(t)) vocab[t] = next++;
  };
  add("[UNK]");
  for (char c = 'a'; c <= 'z'; ++c) {
    add(std::string(1, c));
    add(prefix_mode ? "##" + std::string(1, c) : std::string(1, c) + "</w>");
  }
  for (int b : {0x41, 0x42, 0x43, 0xC3, 0xA9, 0xE4, 0xB8, 0x80, 0x20, 0x0A}) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    add(buf);
  }
  boost::json::array merges;
  auto merge = [&](const std::string& a, const std::string& b) {
    const std::string merged = a + (prefix_mode && b.rfind("##", 0) == 0 ? b.substr(2) : b);
    add(merged);
    merges.push_back(boost::json::string(a + " " + b));
  };
  if (prefix_mode) {
    merge("t", "##h");
    merge("th", "##e");
    merge("##e", "##r");
    merge("h", "##e");
    merge("##i", "##n");
    merge("##in", "##g");
    merge("a", "##n");
    merge("an", "##d");
  } else {
    merge("t", "h");
    merge("th", "e</w>");
    merge("e", "r</w>");
    merge("i", "n");
    merge("in", "g</w>");
    merge("a", "n");
    merge("an", "d</w>");
  }
  boost::json::object model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = "[UNK]";
  model["continuing_subword_prefix"] = prefix_mode ? boost::json::value("##") : boost::json::value(nullptr);
  model["end_of_word_suffix"] = prefix_mode ? boost::json::value(nullptr) : boost::json::value("</w>");
  model["fuse_unk"] = fuse_unk;
  model["byte_fallback"] = byte_fallback;
  model["ignore_merges"] = false;
  model["vocab"] = std::move(vocab);
  model["merges"] = std::move(merges);
  return model;
}

TEST(AffixOracleTest, ContinuingSubwordPrefixMatchesHuggingFace) {
  boost::json::object patch;
  patch["model"] = affix_model(true, false, false);
  patch["normalizer"] = boost::json::parse(R"({"type":"Lowercase"})");
  patch["pre_tokenizer"] = boost::json::parse(R"({"type":"Whitespace"})");
  patch["post_processor"] = nullptr;
  patch["decoder"] = nullptr;
  patch["added_tokens"] = boost::json::array();
  compare_with_oracle(model_file("llama2", "tokenizer.json"), &patch, corpus_inputs());
}

TEST(AffixOracleTest, EndOfWordSuffixWithFallbackMatchesHuggingFace) {
  boost::json::object patch;
  patch["model"] = affix_model(false, true, true);
  patch["normalizer"] = boost::json::parse(R"({"type":"NFKD"})");
  patch["pre_tokenizer"] = boost::json::parse(R"({"type":"WhitespaceSplit"})");
  patch["post_processor"] = nullptr;
  patch["decoder"] = boost::json::parse(
      R"({"type":"Sequence","decoders":[{"type":"BPEDecoder","suffix":"</w>"},{"type":"ByteFallback"}]})");
  patch["added_tokens"] = boost::json::array();
  compare_with_oracle(model_file("llama2", "tokenizer.json"), &patch, corpus_inputs());
}

TEST(AffixOracleTest, UnfusedUnknownsMatchHuggingFace) {
  boost::json::object patch;
  patch["model"] = affix_model(false, false, false);
  patch["normalizer"] = nullptr;
  patch["pre_tokenizer"] = boost::json::parse(R"({"type":"Punctuation","behavior":"Contiguous"})");
  patch["post_processor"] = nullptr;
  patch["decoder"] = nullptr;
  patch["added_tokens"] = boost::json::array();
  compare_with_oracle(model_file("llama2", "tokenizer.json"), &patch, corpus_inputs());
}

}  // namespace
}  // namespace llmd::testing::tok
