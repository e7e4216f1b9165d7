#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "log/log.h"
#include "tokenizer/added_vocabulary.h"
#include "tokenizer/bpe.h"
#include "tokenizer/decoder.h"
#include "tokenizer/json_util.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/scratch.h"
#include "tokenizer/unicode.h"

namespace llmd::tokenizer {
namespace {

std::atomic<uint64_t> g_next_serial{1};

// One TemplateProcessing "single" template: a sequence of special-token id lists and the input.
struct TemplateItem {
  bool is_sequence = false;
  std::vector<uint32_t> ids;
};
using Template = std::vector<TemplateItem>;

Result<void> parse_template_processing(const boost::json::object& obj, const std::string& path,
                                       std::vector<Template>& out) {
  const std::string single_path = json::child(path, "single");
  const auto* single_v = json::find(obj, "single");
  if (single_v == nullptr) return json::type_error(single_path, "array");
  auto single = json::as_array(*single_v, single_path);
  if (!single) return single.error();
  const boost::json::object* specials = nullptr;
  if (const auto* sv = json::find(obj, "special_tokens")) {
    auto so = json::as_object(*sv, json::child(path, "special_tokens"));
    if (!so) return so.error();
    specials = *so;
  }
  Template tpl;
  for (size_t i = 0; i < (*single)->size(); ++i) {
    const std::string item_path = json::index(single_path, i);
    auto item = json::as_object((**single)[i], item_path);
    if (!item) return item.error();
    if (const auto* seq = json::find(**item, "Sequence")) {
      auto so = json::as_object(*seq, json::child(item_path, "Sequence"));
      if (!so) return so.error();
      auto id = json::get_string(**so, "id", json::child(item_path, "Sequence"));
      if (!id) return id.error();
      if (*id != "A") {
        return make_error(
            ErrorCode::kConfig,
            fmt::format("{}.Sequence.id: a single-sequence template must use A, not '{}'", item_path, *id));
      }
      tpl.push_back({true, {}});
      continue;
    }
    if (const auto* st = json::find(**item, "SpecialToken")) {
      auto so = json::as_object(*st, json::child(item_path, "SpecialToken"));
      if (!so) return so.error();
      auto id = json::get_string(**so, "id", json::child(item_path, "SpecialToken"));
      if (!id) return id.error();
      const boost::json::value* entry = specials ? json::find(*specials, *id) : nullptr;
      if (entry == nullptr) {
        return make_error(
            ErrorCode::kConfig,
            fmt::format("{}.SpecialToken.id: '{}' is not in {}.special_tokens", item_path, *id, path));
      }
      const std::string entry_path = fmt::format("{}.special_tokens[\"{}\"]", path, *id);
      auto eo = json::as_object(*entry, entry_path);
      if (!eo) return eo.error();
      const auto* ids_v = json::find(**eo, "ids");
      if (ids_v == nullptr || !ids_v->is_array())
        return json::type_error(json::child(entry_path, "ids"), "array");
      TemplateItem ti;
      for (const auto& x : ids_v->get_array()) {
        if (x.is_uint64()) {
          ti.ids.push_back(static_cast<uint32_t>(x.get_uint64()));
        } else if (x.is_int64() && x.get_int64() >= 0) {
          ti.ids.push_back(static_cast<uint32_t>(x.get_int64()));
        } else {
          return json::type_error(json::child(entry_path, "ids"), "array of token ids");
        }
      }
      tpl.push_back(std::move(ti));
      continue;
    }
    return make_error(ErrorCode::kConfig, fmt::format("{}: expected Sequence or SpecialToken", item_path));
  }
  out.push_back(std::move(tpl));
  return {};
}

Result<void> parse_post_processor(const boost::json::value& v, const std::string& path,
                                  std::vector<Template>& out) {
  auto obj_r = json::as_object(v, path);
  if (!obj_r) return obj_r.error();
  const auto& obj = **obj_r;
  auto type = json::get_string(obj, "type", path);
  if (!type) return type.error();
  // ByteLevel only adjusts offsets, which do not change ids.
  if (*type == "ByteLevel") return {};
  if (*type == "TemplateProcessing") return parse_template_processing(obj, path, out);
  if (*type == "Sequence") {
    const std::string key_path = json::child(path, "processors");
    const auto* arr_v = json::find(obj, "processors");
    if (arr_v == nullptr) return json::type_error(key_path, "array");
    auto arr = json::as_array(*arr_v, key_path);
    if (!arr) return arr.error();
    for (size_t i = 0; i < (*arr)->size(); ++i) {
      auto r = parse_post_processor((**arr)[i], json::index(key_path, i), out);
      if (!r) return r;
    }
    return {};
  }
  return make_error(ErrorCode::kConfig, fmt::format("{}.type: unsupported post-processor '{}'", path, *type));
}

EncodeScratch& thread_scratch() {
  thread_local EncodeScratch scratch;
  return scratch;
}

}  // namespace

WordCache::WordCache(size_t slots) {
  if (slots == 0) return;
  size_t cap = 1;
  while (cap < slots) cap <<= 1;
  slots_.resize(cap);
  mask_ = cap - 1;
}

void WordCache::clear() {
  for (auto& s : slots_) s.count = 0;
}

EncodeScratch::EncodeScratch(size_t cache_slots) : impl_(std::make_unique<Impl>(cache_slots)) {}
EncodeScratch::~EncodeScratch() = default;
const WordCacheStats& EncodeScratch::cache_stats() const { return impl_->cache.stats(); }

struct Tokenizer::Impl {
  uint64_t serial = 0;
  std::unique_ptr<Normalizer> normalizer;
  std::vector<std::unique_ptr<PreTokenizerStep>> pre_tokenizers;
  std::unique_ptr<Bpe> model;
  AddedVocabulary added;
  std::unique_ptr<Decoder> decoder;
  std::vector<Template> templates;
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

Result<std::shared_ptr<const Tokenizer>> Tokenizer::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return make_error(ErrorCode::kIo, fmt::format("cannot open tokenizer file '{}'", path));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (!f && !f.eof()) return make_error(ErrorCode::kIo, fmt::format("cannot read tokenizer file '{}'", path));
  auto t = from_json(ss.str());
  if (!t) return make_error(t.error().code, fmt::format("{}: {}", path, t.error().message));
  return t;
}

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_json(std::string_view json_text) {
  boost::system::error_code ec;
  boost::json::value root = boost::json::parse(json_text, ec);
  if (ec) return make_error(ErrorCode::kConfig, fmt::format("invalid JSON: {}", ec.message()));
  auto obj_r = json::as_object(root, "(root)");
  if (!obj_r) return obj_r.error();
  const auto& obj = **obj_r;
  auto impl = std::make_unique<Impl>();
  impl->serial = g_next_serial.fetch_add(1);

  for (const char* key : {"truncation", "padding"}) {
    if (json::find(obj, key) != nullptr) {
      return make_error(ErrorCode::kConfig, fmt::format("{}: unsupported (expected null)", key));
    }
  }
  if (const auto* v = json::find(obj, "normalizer")) {
    auto n = parse_normalizer(*v, "normalizer");
    if (!n) return n.error();
    impl->normalizer = std::move(*n);
  }
  if (const auto* v = json::find(obj, "pre_tokenizer")) {
    auto r = parse_pre_tokenizer(*v, "pre_tokenizer", impl->pre_tokenizers);
    if (!r) return r.error();
  }
  const auto* model_v = json::find(obj, "model");
  if (model_v == nullptr) return json::type_error("model", "object");
  auto model = Bpe::parse(*model_v, "model");
  if (!model) return model.error();
  impl->model = std::move(*model);
  if (!impl->pre_tokenizers.empty() && is_byte_level_step(*impl->pre_tokenizers.back()) &&
      impl->model->enable_raw_mode()) {
    set_byte_level_raw_output(*impl->pre_tokenizers.back());
  }
  if (const auto* v = json::find(obj, "post_processor")) {
    auto r = parse_post_processor(*v, "post_processor", impl->templates);
    if (!r) return r.error();
  }
  if (const auto* v = json::find(obj, "decoder")) {
    auto d = parse_decoder(*v, "decoder");
    if (!d) return d.error();
    impl->decoder = std::move(*d);
  }
  if (const auto* v = json::find(obj, "added_tokens")) {
    auto arr = json::as_array(*v, "added_tokens");
    if (!arr) return arr.error();
    for (size_t i = 0; i < (*arr)->size(); ++i) {
      const std::string p = json::index("added_tokens", i);
      auto to = json::as_object((**arr)[i], p);
      if (!to) return to.error();
      AddedToken t;
      auto content = json::get_string(**to, "content", p);
      if (!content) return content.error();
      t.content = std::move(*content);
      auto id = json::get_uint(**to, "id", p, std::nullopt);
      if (!id) return id.error();
      auto special = json::get_bool(**to, "special", p, false);
      if (!special) return special.error();
      t.special = *special;
      auto sw = json::get_bool(**to, "single_word", p, false);
      auto ls = json::get_bool(**to, "lstrip", p, false);
      auto rs = json::get_bool(**to, "rstrip", p, false);
      auto nz = json::get_bool(**to, "normalized", p, !t.special);
      if (!sw) return sw.error();
      if (!ls) return ls.error();
      if (!rs) return rs.error();
      if (!nz) return nz.error();
      t.single_word = *sw;
      t.lstrip = *ls;
      t.rstrip = *rs;
      t.normalized = *nz;
      const uint32_t got = impl->added.add(t, *impl->model);
      if (got != *id) {
        log::warn("added token received another id than the file declares", log::kv("token", t.content),
                  log::kv("declared", *id), log::kv("assigned", got));
      }
    }
  }
  RegexScratch regex;
  std::string tmp[2];
  NormalizeScratch ns{regex, tmp};
  auto built = impl->added.build(*impl->model, impl->normalizer.get(), ns);
  if (!built) return built.error();
  return std::shared_ptr<const Tokenizer>(new Tokenizer(std::move(impl)));
}

Result<std::vector<uint32_t>> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  std::vector<uint32_t> out;
  auto r = encode(text, options, thread_scratch(), out);
  if (!r) return r.error();
  return out;
}

Result<void> Tokenizer::encode(std::string_view text, const EncodeOptions& options, EncodeScratch& scratch,
                               std::vector<uint32_t>& out) const {
  auto& s = *scratch.impl_;
  const Impl& t = *impl_;
  if (s.owner != t.serial) {
    s.cache.clear();
    s.owner = t.serial;
  }
  if (s.levels.size() < t.pre_tokenizers.size()) s.levels.resize(t.pre_tokenizers.size());
  out.clear();
  std::string_view input = text;
  if (!is_valid_utf8(text)) {
    s.input.clear();
    append_lossy_utf8(text, s.input);
    input = s.input;
  }
  auto& ids = options.add_special_tokens && !t.templates.empty() ? s.ids : out;
  ids.clear();
  NormalizeScratch ns{s.regex, s.norm_tmp};
  auto to_model = [&](Piece p) -> Result<void> { return t.model->tokenize(p.text, p.raw_bytes, s, ids); };

  t.added.find_matches(input, false, s.raw_segments);
  for (const auto& seg : s.raw_segments) {
    if (seg.id != kNoId) {
      ids.push_back(seg.id);
      continue;
    }
    std::string_view piece = input.substr(seg.start, seg.end - seg.start);
    if (t.normalizer) {
      auto r = t.normalizer->normalize(piece, s.normalized, ns);
      if (!r) return r;
      piece = s.normalized;
    }
    t.added.find_matches(piece, true, s.norm_segments);
    for (const auto& nseg : s.norm_segments) {
      if (nseg.id != kNoId) {
        ids.push_back(nseg.id);
        continue;
      }
      Piece p{piece.substr(nseg.start, nseg.end - nseg.start), seg.start == 0 && nseg.start == 0, false};
      auto r = run_pre_tokenizers(t.pre_tokenizers, 0, p, s, to_model);
      if (!r) return r;
    }
  }
  if (&ids != &out) {
    // Each template wraps the result of the previous one (post-processor Sequence).
    for (const auto& tpl : t.templates) {
      out.clear();
      for (const auto& item : tpl) {
        if (item.is_sequence) {
          out.insert(out.end(), ids.begin(), ids.end());
        } else {
          out.insert(out.end(), item.ids.begin(), item.ids.end());
        }
      }
      ids.swap(out);
    }
    out.swap(ids);
  }
  return {};
}

Result<std::vector<std::vector<uint32_t>>> Tokenizer::encode_batch(std::span<const std::string_view> texts,
                                                                   const EncodeOptions& options,
                                                                   size_t threads) const {
  std::vector<std::vector<uint32_t>> results(texts.size());
  if (texts.empty()) return results;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, texts.size());
  std::vector<Error> errors(texts.size());
  std::vector<char> failed(texts.size(), 0);
  std::atomic<size_t> next{0};
  auto work = [&] {
    EncodeScratch scratch;
    while (true) {
      const size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= texts.size()) return;
      auto r = encode(texts[i], options, scratch, results[i]);
      if (!r) {
        errors[i] = r.error();
        failed[i] = 1;
      }
    }
  };
  if (threads == 1) {
    work();
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (size_t k = 0; k < threads; ++k) pool.emplace_back(work);
    for (auto& th : pool) th.join();
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    if (failed[i]) return make_error(errors[i].code, fmt::format("text {}: {}", i, errors[i].message));
  }
  return results;
}

std::string Tokenizer::decode(std::span<const uint32_t> ids, bool skip_special_tokens) const {
  const Impl& t = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (uint32_t id : ids) {
    const std::string* tok = nullptr;
    if (const AddedToken* at = t.added.token_for_id(id)) {
      tok = &at->content;
    } else {
      tok = t.model->id_to_token(id);
    }
    if (tok == nullptr) continue;
    if (skip_special_tokens && t.added.is_special_id(id)) continue;
    tokens.push_back(*tok);
  }
  if (!t.decoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out.push_back(' ');
      out.append(tokens[i]);
    }
    return out;
  }
  t.decoder->decode_chain(tokens);
  std::string out;
  for (const auto& tok : tokens) out.append(tok);
  return out;
}

std::optional<uint32_t> Tokenizer::token_to_id(std::string_view token) const {
  uint32_t id = impl_->added.token_to_id(token);
  if (id == kNoId) id = impl_->model->token_to_id(token);
  if (id == kNoId) return std::nullopt;
  return id;
}

std::optional<std::string> Tokenizer::id_to_token(uint32_t id) const {
  if (const AddedToken* at = impl_->added.token_for_id(id)) return at->content;
  if (const std::string* s = impl_->model->id_to_token(id)) return *s;
  return std::nullopt;
}

size_t Tokenizer::vocab_size(bool with_added_tokens) const {
  const size_t base = impl_->model->vocab_size();
  return with_added_tokens ? base + impl_->added.count_outside(*impl_->model) : base;
}

bool Tokenizer::is_special(uint32_t id) const { return impl_->added.is_special_id(id); }

}  // namespace llmd::tokenizer
