// Fuzz target for Tokenizer::encode on two built-in tokenizers: a byte-level BPE with Llama 3's
// split regex and added tokens, and a SentencePiece-style BPE with byte fallback. The first input
// byte picks the tokenizer and options; the rest is the text (any bytes, valid UTF-8 or not).
// Checks: encoding never fails; ids are in the vocabulary; the byte-level tokenizer decodes back
// to the (repaired) input; a warm cache gives the same ids as a cold one.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace {

using llmd::tokenizer::ByteLevelTable;
using llmd::tokenizer::EncodeOptions;
using llmd::tokenizer::EncodeScratch;
using llmd::tokenizer::Tokenizer;

constexpr const char* kMergePairs[][2] = {{"t", "h"},
                                          {"th", "e"},
                                          {"i", "n"},
                                          {"in", "g"},
                                          {"e", "r"},
                                          {"a", "n"},
                                          {"an", "d"},
                                          {"o", "n"},
                                          {"\xC4\xA0", "t"},
                                          {"\xC4\xA0t", "h"},
                                          {"\xC4\xA0th", "e"},
                                          {"\xC4\xA0", "a"},
                                          {"r", "e"},
                                          {"e", "s"},
                                          {"\xC4\xA0", "\xC4\xA0"},
                                          {"\xC4\x8A", "\xC4\x8A"},
                                          {"1", "2"},
                                          {"\xC3\xA9", "t"}};

std::shared_ptr<const Tokenizer> byte_level() {
  const auto& table = ByteLevelTable::get();
  boost::json::object vocab;
  uint32_t next = 0;
  for (int b = 0; b < 256; ++b) vocab[std::string(table.chars[b])] = next++;
  boost::json::array merges;
  for (const auto& p : kMergePairs) {
    const std::string merged = std::string(p[0]) + p[1];
    if (!vocab.contains(merged)) vocab[merged] = next++;
    merges.push_back(boost::json::string(std::string(p[0]) + " " + p[1]));
  }
  boost::json::object model{{"type", "BPE"}, {"ignore_merges", true}};
  model["vocab"] = std::move(vocab);
  model["merges"] = std::move(merges);
  boost::json::object root;
  root["model"] = std::move(model);
  root["pre_tokenizer"] = boost::json::parse(R"({"type":"Sequence","pretokenizers":[
    {"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},
    {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]})");
  root["decoder"] = boost::json::parse(R"({"type":"ByteLevel"})");
  root["added_tokens"] = boost::json::parse(R"([
    {"id":274,"content":"<|eot|>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true},
    {"id":275,"content":"<tool>","single_word":true,"lstrip":true,"rstrip":true,"normalized":false,"special":false}])");
  root["post_processor"] = boost::json::parse(R"({"type":"TemplateProcessing",
    "single":[{"SpecialToken":{"id":"<|eot|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
    "special_tokens":{"<|eot|>":{"id":"<|eot|>","ids":[274],"tokens":["<|eot|>"]}}})");
  auto t = Tokenizer::from_json(boost::json::serialize(root));
  if (!t) {
    std::fprintf(stderr, "built-in tokenizer: %s\n", t.error().message.c_str());
    std::abort();
  }
  return *t;
}

std::shared_ptr<const Tokenizer> sentencepiece() {
  boost::json::object vocab{{"<unk>", 0}, {"<s>", 1}, {"\xE2\x96\x81", 2}};
  uint32_t next = 3;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = next++;
  }
  for (const char* c : {"a", "b", "e", "h", "t", "th", "he", "the", "\xE2\x96\x81t", "\xE2\x96\x81the"}) {
    vocab[c] = next++;
  }
  boost::json::array merges;
  for (const char* m : {"t h", "th e", "h e", "\xE2\x96\x81 t", "\xE2\x96\x81t he", "\xE2\x96\x81 the"}) {
    merges.push_back(boost::json::string(m));
  }
  boost::json::object model{
      {"type", "BPE"}, {"unk_token", "<unk>"}, {"fuse_unk", true}, {"byte_fallback", true}};
  model["vocab"] = std::move(vocab);
  model["merges"] = std::move(merges);
  boost::json::object root;
  root["model"] = std::move(model);
  root["normalizer"] = boost::json::parse(
      R"({"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]})");
  root["pre_tokenizer"] =
      boost::json::parse(R"({"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true})");
  root["decoder"] = boost::json::parse(
      R"({"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"},{"type":"Strip","content":" ","start":1,"stop":0}]})");
  root["added_tokens"] = boost::json::parse(
      R"([{"id":1,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}])");
  auto t = Tokenizer::from_json(boost::json::serialize(root));
  if (!t) {
    std::fprintf(stderr, "built-in tokenizer: %s\n", t.error().message.c_str());
    std::abort();
  }
  return *t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto bl = byte_level();
  static const auto sp = sentencepiece();
  static EncodeScratch warm(64);
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Tokenizer& t = (mode & 1) ? *sp : *bl;
  const EncodeOptions opts{(mode & 2) != 0};

  std::vector<uint32_t> cold_ids, warm_ids;
  EncodeScratch cold(64);
  if (!t.encode(text, opts, cold, cold_ids)) std::abort();
  if (!t.encode(text, opts, warm, warm_ids)) std::abort();
  if (cold_ids != warm_ids) std::abort();
  for (uint32_t id : cold_ids) {
    if (!t.id_to_token(id)) std::abort();
  }
  // Decoding gives the text back, except around "<tool>": an added token with lstrip/rstrip takes
  // the whitespace beside it into its match, as Hugging Face's does, and decodes without it.
  if (&t == bl.get() && !opts.add_special_tokens && text.find("<tool>") == std::string_view::npos) {
    std::string repaired;
    llmd::tokenizer::append_lossy_utf8(text, repaired);
    if (t.decode(cold_ids) != repaired) std::abort();
  }
  return 0;
}
